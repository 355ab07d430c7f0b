"""The Microsoft Teams door (Microsoft 365 Agents SDK), served at `/api/messages`."""

from bot.teams.adapter import TeamsAdapter, create_teams

__all__ = ["TeamsAdapter", "create_teams"]
