"""Slack: slash commands, modals, buttons and the App Home, with slack-bolt's AsyncApp."""

from bot.slack.adapter import SlackAdapter, create_slack

__all__ = ["SlackAdapter", "create_slack"]
