"""Build the bot's services from settings: database, organisation, cipher, clock.

With SQLite only one bot process may use a database file: its scheduler would otherwise run
beside another one without a leader lock (that lock is PostgreSQL's). `build_services` takes
an exclusive lock on `<database>.lock` for a process that runs the scheduler, for as long as
its services live; a second such process is refused with a clear message. Commands that only
read or add (`reminders list`, `audit export`, `demo`) work beside it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url

from bot.keys import open_cipher
from bot.settings import Settings, SettingsError
from commands.context import Services
from commands.organisation import Organisation, load_organisation
from commands.orgsync import sync_organisation
from store.db import is_sqlite, make_engine, make_sessionmaker

_HELD: dict[int, IO[bytes]] = {}  # id(services) → the lock file of its SQLite database


def sqlite_lock_path(url: str) -> Path | None:
    database = make_url(url).database if is_sqlite(url) else None
    if not database or database == ":memory:":
        return None
    return Path(f"{database}.lock")


def hold_sqlite_file(url: str) -> IO[bytes] | None:
    """The exclusive lock on the SQLite file's lock file; SettingsError when another process
    holds it. The lock goes with the process, also when it is killed."""
    path = sqlite_lock_path(url)
    if path is None:
        return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        from messages.render import renderer

        raise SettingsError(renderer("plain").text(
            "cli/sqlite_in_gebruik", bestand=make_url(url).database)) from None
    return handle


async def build_services(
    settings: Settings, org: Organisation | None = None, *, runs_scheduler: bool = False
) -> Services:
    """Connect to the (already migrated) database and mirror the organisation into it. A
    process that runs the scheduler (`run`, `console`) holds the SQLite file for itself."""
    org = org or load_organisation(settings.config)
    held = hold_sqlite_file(settings.database_url) if runs_scheduler else None
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    try:
        cipher = await open_cipher(settings, sessions)  # refuses a missing or wrong key
    except BaseException:
        await engine.dispose()
        if held is not None:
            held.close()
        raise
    services = Services(sessions=sessions, org=org, cipher=cipher,
                        timezone=ZoneInfo(settings.timezone))
    if held is not None:
        _HELD[id(services)] = held
    async with services.transaction() as session:
        await sync_organisation(session, org)
    return services


async def close_services(services: Services) -> None:
    bind = services.sessions.kw.get("bind")
    if bind is not None:
        await bind.dispose()
    held = _HELD.pop(id(services), None)
    if held is not None:
        held.close()
