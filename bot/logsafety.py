"""Log lines never carry household data.

Database errors describe the failing values (PostgreSQL's DETAIL: "Failing row contains (…)",
"Key (…)=(…) already exists"). This filter keeps the traceback's frames, so a bug can be
found, but replaces the text of every database error in the chain by its type and SQLSTATE.
"""

from __future__ import annotations

import logging
import traceback
from types import TracebackType

import psycopg
from sqlalchemy.exc import DBAPIError, StatementError

REDACTED = "(details verborgen: kunnen persoonsgegevens bevatten)"


def _is_database_error(exc: BaseException) -> bool:
    return isinstance(exc, StatementError | DBAPIError | psycopg.Error)


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


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
    """Attach to log handlers: formats exceptions whose chain holds a database error safely."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if any(_is_database_error(link) for link in _chain(exc)):
                record.exc_text = redacted_traceback(exc, record.exc_info[2])
        return True


def install(handlers: list[logging.Handler] | None = None) -> None:
    """Put the filter on the given handlers (default: the root logger's)."""
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        if not any(isinstance(f, RedactDatabaseErrors) for f in handler.filters):
            handler.addFilter(RedactDatabaseErrors())
