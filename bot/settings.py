"""Runtime settings, read from the environment and an optional `.env` file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.db import owner_only_dir

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

    teams_app_id: str | None = Field(default=None, alias="TEAMS_APP_ID")
    teams_app_password: str | None = Field(default=None, alias="TEAMS_APP_PASSWORD")
    teams_tenant_id: str | None = Field(default=None, alias="TEAMS_TENANT_ID")
    # where the OpenID metadata of the tokens Teams sends lives (`/.well-known/openidconfiguration`)
    teams_api_url: str = Field(default="https://login.botframework.com/v1", alias="TEAMS_API_URL")
    # where the bot gets its own token (client credentials); empty: Entra ID of TEAMS_TENANT_ID
    teams_token_url: str | None = Field(default=None, alias="TEAMS_TOKEN_URL")
    # the connector service for posts the bot starts itself (a member's activity brings its own)
    teams_service_url: str = Field(default="https://smba.trafficmanager.net/teams/",
                                   alias="TEAMS_SERVICE_URL")

    @property
    def platform_enabled(self) -> bool:
        return bool(self.slack_bot_token or self.telegram_bot_token or self.teams_app_id)

    def configured_secret_key(self) -> str | None:
        """The key from REGIEBOT_SECRET_KEY, or else from ``var/secret.key`` when that file
        exists; None when there is neither (never generates one)."""
        if self.secret_key:
            return self.secret_key
        path = VAR_DIR / "secret.key"
        if path.exists():
            return path.read_text().strip()
        return None

    def new_secret_key(self) -> str:
        """A key for an empty database. Locally (no platform token) it is generated once into
        ``var/secret.key``; with a platform token the key must be given explicitly, so that a
        production bot never silently encrypts with a throw-away key."""
        if self.platform_enabled:
            raise SettingsError(
                "REGIEBOT_SECRET_KEY is verplicht zodra SLACK_BOT_TOKEN, TELEGRAM_BOT_TOKEN of TEAMS_APP_ID "
                "is gezet. Maak er een met: regiebot secret-key"
            )
        return local_secret_key(VAR_DIR / "secret.key")


def local_secret_key(path: Path) -> str:
    """Read the key file, or create it (0600, in a 0700 folder) when it does not exist."""
    if path.exists():
        return path.read_text().strip()
    from cryptography.fernet import Fernet

    owner_only_dir(path.parent)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def new_request_secret() -> str:
    return secrets.token_urlsafe(32)
