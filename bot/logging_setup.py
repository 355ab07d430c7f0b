"""Where log lines go, how they look, and how much the libraries may say.

`configure` puts one handler on the root logger (stderr by default), formatted as text or as
one JSON object a line (`REGIEBOT_LOG_FORMAT`), with the filters of `bot.logsafety` on it.

Levels:
- the project's own loggers (`regiebot`, `bot`, `commands`, `store`, `messages`) follow
  `REGIEBOT_LOG_LEVEL` (default INFO);
- library loggers never go below INFO, whatever `REGIEBOT_LOG_LEVEL` says (their DEBUG lines
  hold request and response bodies, SQL parameters and decrypted rows);
- httpx, httpcore, sqlalchemy and aiosqlite are held at WARNING: at INFO they write one line
  per HTTP request (a Telegram URL holds the bot token) or per SQL statement.
The filters hold the same line even when a library's level is lowered by hand.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TextIO

from bot import logsafety
from bot.settings import VAR_DIR, Settings, SettingsError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HANDLER_NAME = "regiebot"

LIBRARY_FLOOR = logging.INFO
QUIET_LIBRARIES = ("httpx", "httpcore", "sqlalchemy", "aiosqlite")
QUIET_FLOOR = logging.WARNING


class SafeTextFormatter(logging.Formatter):
    """The text format; the finished line is checked for secrets once more."""

    def format(self, record: logging.LogRecord) -> str:
        return logsafety.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return logsafety.redact(json.dumps(entry, ensure_ascii=False))


def log_level(value: str) -> int:
    name = value.strip().upper()
    if name not in LEVELS:
        raise _wrong_setting("REGIEBOT_LOG_LEVEL", value, LEVELS)
    return int(logging.getLevelNamesMapping()[name])


def log_format(value: str) -> str:
    name = value.strip().lower()
    if name not in FORMATS:
        raise _wrong_setting("REGIEBOT_LOG_FORMAT", value, FORMATS)
    return name


def _wrong_setting(setting: str, value: str, choices: tuple[str, ...]) -> SettingsError:
    from messages.render import renderer

    return SettingsError(renderer("plain").text(
        "cli/log_instelling_onjuist", instelling=setting, waarde=value, keuzes=", ".join(choices)))


def configured_secrets(settings: Settings) -> list[str | None]:
    return [settings.slack_bot_token, settings.slack_app_token, settings.slack_signing_secret,
            settings.telegram_bot_token, settings.telegram_webhook_secret, settings.secret_key,
            _database_password(settings.database_url)]


def _database_password(url: str) -> str | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password
    except ArgumentError:
        return None


CONSOLE_LOG = VAR_DIR / "regiebot.log"


def configure(
    settings: Settings, stream: TextIO | None = None, *, console: bool = False
) -> logging.Handler:
    """Set up logging for a run of the bot; returns the handler it added to the root logger.

    Log lines go to stderr, or to the file `REGIEBOT_LOG_FILE` names ("-" is stderr). In the
    console chat they go to var/regiebot.log unless that setting says otherwise, so that they
    never come between the chat's lines."""
    level = log_level(settings.log_level)
    fmt = log_format(settings.log_format)
    logsafety.remember_secrets(configured_secrets(settings))
    handler = _handler(settings.log_file, stream, console)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else SafeTextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    logsafety.install(root.handlers)
    set_levels(level)
    sys.excepthook = log_uncaught
    threading.excepthook = log_uncaught_in_thread
    return handler


def _handler(log_file: str | None, stream: TextIO | None, console: bool) -> logging.Handler:
    if stream is not None or log_file == "-" or (log_file is None and not console):
        return logging.StreamHandler(stream if stream is not None else sys.stderr)
    path = Path(log_file) if log_file else CONSOLE_LOG
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    return logging.FileHandler(path, encoding="utf-8")


def set_levels(level: int) -> None:
    """The project's loggers at `level`; libraries at INFO or WARNING at the lowest."""
    logging.getLogger().setLevel(max(level, LIBRARY_FLOOR))
    for name in logsafety.PROJECT_LOGGERS:
        logging.getLogger(name).setLevel(level)
    logging.getLogger(logsafety.BOLT_LOGGER).setLevel(max(level, LIBRARY_FLOOR))
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, QUIET_FLOOR))


def log_uncaught(kind: type[BaseException], value: BaseException,
                 tb: TracebackType | None) -> None:
    """An error nobody caught goes through the log too, so its traceback is filtered."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    logging.getLogger("regiebot").critical("gestopt door een onverwachte fout",
                                           exc_info=(kind, value, tb))


def log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    thread = args.thread.name if args.thread is not None else "?"
    logging.getLogger("regiebot").critical("thread %s gestopt door een onverwachte fout", thread,
                                           exc_info=(args.exc_type, args.exc_value,
                                                     args.exc_traceback))
