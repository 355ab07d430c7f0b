"""Log lines never carry household data or secrets, at any level.

Three filters, put in this order on every handler of the root logger by `install`:

- `HoldLibraryDetail`: libraries dump request and response bodies, SQL parameters and
  decrypted rows at DEBUG (slack_sdk, slack_bolt, telegram, httpx/httpcore, aiosqlite,
  sqlalchemy). Below INFO only the project's own loggers get through, and a body that a
  library writes into a line at INFO or above is cut off (slack_bolt's "Invalid request
  signature detected (…, body: …)" keeps its signature and timestamp).
- `RedactDatabaseErrors`: database errors describe the failing values (PostgreSQL's DETAIL:
  "Failing row contains (…)", "Key (…)=(…) already exists"). The traceback's frames stay, so a
  bug can be found, but the text of every database error in the chain becomes its type and
  SQLSTATE.
- `RedactSecrets`: tokens, keys and passwords are replaced by `<verborgen>` in the message,
  its arguments, the exception text and the stack: Telegram bot URLs (`/bot<token>/`), Slack
  tokens (`xoxb-`, `xapp-`, `xoxp-`, …), Authorization headers, `…token=`/`…secret:` pairs,
  Socket Mode tickets, Fernet keys, passwords in database URLs, and every secret value the
  running bot was configured with (`remember_secrets`).
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterable
from types import TracebackType
from urllib.parse import quote

from sqlalchemy.exc import DBAPIError, StatementError

REDACTED = "(details verborgen: kunnen persoonsgegevens bevatten)"
HIDDEN = "<verborgen>"
BODY_HIDDEN = "<inhoud verborgen>"

PROJECT_LOGGERS = ("regiebot", "bot", "commands", "store", "messages")
# slack_bolt's own logger, named inside the project so that the adapter can hand it over.
BOLT_LOGGER = "bot.slack.bolt"
SHORTEST_SECRET = 8  # shorter configured values ("x" in tests) would blank out ordinary words


# --- database errors ------------------------------------------------------------------------

def _is_database_error(exc: BaseException) -> bool:
    if isinstance(exc, StatementError | DBAPIError):
        return True
    # psycopg is imported only with PostgreSQL; when it is not loaded, no error can be its own
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.Error)


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _holds_database_error(exc: BaseException) -> bool:
    return any(_is_database_error(link) for link in _chain(exc))


def _describe(exc: BaseException) -> str:
    if not _is_database_error(exc):
        return "".join(traceback.format_exception_only(type(exc), exc)).strip()
    orig = getattr(exc, "orig", exc)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)
    code = f" [SQLSTATE {sqlstate}]" if sqlstate else ""
    return f"{type(exc).__module__}.{type(exc).__qualname__}{code} {REDACTED}"


def redacted_traceback(exc: BaseException, tb: TracebackType | None) -> str:
    """The traceback of `exc` and its causes, with database error texts left out."""
    parts = []
    for link in reversed(_chain(exc)):
        frames = "".join(traceback.format_tb(link.__traceback__ if link is not exc else tb))
        parts.append(f"Traceback (most recent call last):\n{frames}{_describe(link)}")
    return "\n\nDaarna:\n\n".join(parts)


class RedactDatabaseErrors(logging.Filter):
    """Formats exceptions whose chain holds a database error safely."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if _holds_database_error(exc):
                record.exc_text = redacted_traceback(exc, record.exc_info[2])
        return True


# --- library detail -------------------------------------------------------------------------

def is_project_logger(name: str) -> bool:
    if name == BOLT_LOGGER or name.startswith(BOLT_LOGGER + "."):
        return False
    return any(name == prefix or name.startswith(prefix + ".") for prefix in PROJECT_LOGGERS)


_BODY_CUTS: tuple[tuple[re.Pattern[str], str], ...] = (
    # slack_bolt: "Invalid request signature detected (signature: …, timestamp: …, body: …)"
    (re.compile(r"(Invalid request signature detected \(.*?), body: .*", re.S), r"\1)"),
    # slack_bolt: "… without providing a response for the request ({body})"
    (re.compile(r"(for the request) \(.*", re.S), rf"\1 ({BODY_HIDDEN})"),
    # slack_bolt: "Unhandled request ({filtered body})" and its suggestion
    (re.compile(r"(Unhandled request) \(.*?\)(?=\n---|\Z)", re.S), rf"\1 ({BODY_HIDDEN})"),
    # anything else that announces a body or its parameters
    (re.compile(r"(?i)\b((?:request |response |json_)?body(?:_params)?\s*[:=]\s*).*", re.S),
     rf"\1{BODY_HIDDEN}"),
    (re.compile(r"(?i)(with parameters\s*).*", re.S), rf"\1{BODY_HIDDEN}"),
    (re.compile(r"(?i)(with return value\s*).*", re.S), rf"\1{BODY_HIDDEN}"),
)


def cut_bodies(text: str) -> str:
    for pattern, replacement in _BODY_CUTS:
        text = pattern.sub(replacement, text)
    return text


class HoldLibraryDetail(logging.Filter):
    """Below INFO only the project's loggers pass; bodies in library lines are cut off."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO and not is_project_logger(record.name):
            return False
        _freeze_message(record)
        record.msg = cut_bodies(str(record.msg))
        return True


# --- secrets ---------------------------------------------------------------------------------

_known: tuple[str, ...] = ()  # longest first; replaced whole, so logging threads need no lock

_SECRET_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Telegram: https://api.telegram.org/bot<token>/method and /file/bot<token>/path
    (re.compile(r"/bot[0-9]+(?::|%3A)[^/\s\"'?#]+", re.I), f"/bot{HIDDEN}"),
    # a bare Telegram bot token
    (re.compile(r"\b[0-9]{6,}:[A-Za-z0-9_-]{30,}"), HIDDEN),
    # Slack tokens: bot, user, app-level, refresh, configuration
    (re.compile(r"\b(xox[a-z]|xapp|xoxe(?:\.xox[a-z])?)-[A-Za-z0-9-]+"), rf"\1-{HIDDEN}"),
    # Authorization headers, with or without scheme, as text, dict or header list
    (re.compile(r"(?i)((?>authorization['\"]?\s*[:=,]\s*(?:b?['\"])?(?:(?:bearer|basic|bot|token)\s+)?))"
                r"(?!<verborgen>)[^\s'\",})\]]+"), rf"\1{HIDDEN}"),
    # key=value and "key": "value" where the key names a secret
    # (snake_case, kebab-case, UPPER_CASE and Header-Case keys; not class names: InvalidToken)
    (re.compile(r"\b([a-z0-9_.-]*(?:token|secret|password|passwd|api_key|apikey|ticket)"
                r"|[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|TICKET)"
                r"|(?:[A-Za-z0-9]+-)*(?:Token|Secret|Password|Ticket))"
                r"((?>(?:['\"]?\s*[:=]\s*|['\"]\s*,\s*)(?:b?['\"])?))(?!<verborgen>)[^\s'\"&,;})\]]+"),
     rf"\1\2{HIDDEN}"),
    # passwords in URLs: scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+@", re.I), rf"\1{HIDDEN}@"),
    # Fernet keys (32 bytes, url-safe base64: 43 characters and "=")
    (re.compile(r"(?<![A-Za-z0-9_=-])[A-Za-z0-9_-]{43}=(?![A-Za-z0-9_=-])"), HIDDEN),
)


def remember_secrets(values: Iterable[str | None]) -> None:
    """Secrets this bot runs with: they are hidden wherever they turn up in a log line."""
    global _known
    known = set(_known)
    for value in values:
        for part in (value or "").split(","):
            part = part.strip()
            if len(part) >= SHORTEST_SECRET:
                known.update({part, quote(part, safe=""), quote(part)})
    _known = tuple(sorted(known, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with every token, key, password and configured secret replaced by <verborgen>."""
    for value in _known:
        if value in text:
            text = text.replace(value, HIDDEN)
    for pattern, replacement in _SECRET_SHAPES:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Hides secrets in the message, its arguments, the exception text and the stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        _freeze_message(record)
        record.msg = redact(str(record.msg))
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FORMATTER = logging.Formatter()


def _safe_argument(value: object) -> object:
    if isinstance(value, BaseException) and _holds_database_error(value):
        return _describe(value)
    return value


def _freeze_message(record: logging.LogRecord) -> None:
    """Format the message once, so that the filters see (and change) the final text.

    A message whose arguments do not fit is kept without them: logging's own error report
    would otherwise print the arguments to stderr.
    """
    if not record.args:
        return
    args = record.args
    if isinstance(args, tuple):
        args = tuple(_safe_argument(a) for a in args)
    try:
        record.msg = str(record.msg) % args
    except Exception:  # arguments that do not fit, or whose str() fails
        record.msg = f"{record.msg} (argumenten verborgen: passen niet bij het bericht)"
    record.args = ()


SAFETY_FILTERS = (HoldLibraryDetail, RedactDatabaseErrors, RedactSecrets)


def install(handlers: list[logging.Handler] | None = None) -> None:
    """Put the filters on the given handlers (default: the root logger's), in order."""
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        for kind in SAFETY_FILTERS:
            if not any(isinstance(f, kind) for f in handler.filters):
                handler.addFilter(kind())


def uninstall(handlers: list[logging.Handler]) -> None:
    """Take the filters off again (tests that lend their handlers)."""
    for handler in handlers:
        for found in [f for f in handler.filters if isinstance(f, SAFETY_FILTERS)]:
            handler.removeFilter(found)
