"""What every command needs: the database, the organisation, the cipher and the clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from commands.organisation import Organisation
from store.crypto import PersonalDataCipher


def system_clock() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """A moment read from the database as UTC (SQLite gives it back without its zone)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Request:
    """How a request reached the bot, for the audit: the door (slack, telegram, console, cli),
    the command or button that asked (never typed text) and, on the console and the command
    line, the operating-system user at the keyboard. Adapters set it per request with
    `Services.asked`. `key` identifies this delivery of the request (a click), for a command
    that records it together with its change (`commands.dedupe.record_handled`). `sender` is
    the worker that sends the request's messages as soon as its change is stored: the outbox
    queues them claimed for it, so sending needs no claim of its own (`commands.outbox`)."""

    door: str = "onbekend"
    purpose: str = ""
    operator: str | None = None
    key: str | None = None
    sender: str | None = None


@dataclass
class Services:
    sessions: async_sessionmaker[AsyncSession]
    org: Organisation
    cipher: PersonalDataCipher
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Amsterdam"))
    clock: Callable[[], datetime] = system_clock
    request: Request = field(default_factory=Request)

    def asked(self, door: str, purpose: str, operator: str | None = None, *,
              key: str | None = None, sender: str | None = None) -> Services:
        """These services for one request that came in through `door`, asked by `purpose`."""
        return replace(self, request=Request(door, purpose, operator, key, sender))

    def now(self) -> datetime:
        """The current moment, timezone-aware UTC."""
        return self.clock().astimezone(UTC)

    def today(self) -> date:
        """Today's calendar date in the bot's timezone."""
        return self.now().astimezone(self.timezone).date()

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:  # SQLite returns naive datetimes; they are stored as UTC
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.timezone)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One short unit of work: commit on success, roll back on any error."""
        async with self.sessions() as session, session.begin():
            yield session
