"""Runtime settings, read from the environment and an optional `.env` file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message says which one and what to do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{VAR_DIR}/regiebot.db", alias="REGIEBOT_DATABASE_URL"
    )
    config: Path = Field(default=Path("deploy/regieteam.example.yaml"), alias="REGIEBOT_CONFIG")
    secret_key: str | None = Field(default=None, alias="REGIEBOT_SECRET_KEY")
    timezone: str = Field(default="Europe/Amsterdam", alias="REGIEBOT_TIMEZONE")
    http_host: str = Field(default="127.0.0.1", alias="REGIEBOT_HTTP_HOST")
    http_port: int = Field(default=3000, alias="REGIEBOT_HTTP_PORT")
    log_level: str = Field(default="INFO", alias="REGIEBOT_LOG_LEVEL")
    log_format: str = Field(default="text", alias="REGIEBOT_LOG_FORMAT")
    log_file: str | None = Field(default=None, alias="REGIEBOT_LOG_FILE")

    slack_bot_token: str | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")

    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_URL")
    telegram_webhook_url: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET")

    @property
    def platform_enabled(self) -> bool:
        return bool(self.slack_bot_token or self.telegram_bot_token)

    def resolved_secret_key(self) -> str:
        """The encryption key for personal data.

        Locally (no platform token) a key is generated once into ``var/secret.key``;
        with a platform token the key must be given explicitly, so that a production
        bot never silently encrypts with a throw-away key.
        """
        if self.secret_key:
            return self.secret_key
        if self.platform_enabled:
            raise SettingsError(
                "REGIEBOT_SECRET_KEY is verplicht zodra SLACK_BOT_TOKEN of TELEGRAM_BOT_TOKEN "
                "is gezet. Maak er een met: regiebot secret-key"
            )
        return local_secret_key(VAR_DIR / "secret.key")


def local_secret_key(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    from cryptography.fernet import Fernet

    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def new_request_secret() -> str:
    return secrets.token_urlsafe(32)
