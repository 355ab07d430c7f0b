"""Telegram: python-telegram-bot v22 serving the same Regieteam flow as Slack and the console."""

from bot.telegram.adapter import TelegramAdapter, create_telegram
from bot.telegram.courier import TelegramCourier

__all__ = ["TelegramAdapter", "TelegramCourier", "create_telegram"]
