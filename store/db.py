"""Engines, sessions and migrations for SQLite (aiosqlite) and PostgreSQL (psycopg)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration. `regiebot run` compares the database with it without loading Alembic
# (Alembic, Mako and Pygments are a tenth of a second of every start); a test checks that it
# is Alembic's one head, so a new migration cannot leave it behind.
SCHEMA_HEAD = "0013"


class MigrationRefused(RuntimeError):
    """A migration cannot run safely (e.g. rows to encrypt and no key); the message says what
    to do. Nothing was changed."""


FOREIGN_TABLES = ("apscheduler_jobs",)
# PostgreSQL advisory lock held (per transaction) while migrations run, so that several
# `regiebot db upgrade` started at once (replicas, a compose restart) run one after the other;
# the later ones then find the schema up to date. "RGMG"; the scheduler leader uses another key.
MIGRATION_LOCK_KEY = 0x52474D47  # tables in the bot's database that others manage


def owned_by_models(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic filter: leave tables of others (APScheduler's job store) alone."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table not in FOREIGN_TABLES


def async_url(url: str) -> str:
    """Normalise a database URL to the async driver this project uses."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The same database for synchronous users (Alembic, APScheduler's job store)."""
    parsed = make_url(async_url(url))
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _ensure_sqlite_dir(url: str) -> None:
    """The SQLite file (and a folder made for it) are the owner's only: 0600 and 0700.
    SQLite gives its -wal and -shm files the permissions of the database file."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    owner_only_dir(path.parent)
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        _owner_only(file, 0o600)


def owner_only_dir(path: Path) -> None:
    """Create a folder readable by its owner only; a folder that exists keeps its mode,
    except the bot's own `var/`."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        _owner_only(path, 0o700)
    elif path.name == "var":
        _owner_only(path, 0o700)


def _owner_only(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):
        if path.exists() and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Reads through a memory map (up to 256 MiB), shared with the OS page cache, instead of
    # each connection's own small page cache: a longer history does not slow the queries down.
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted values are overwritten, not left behind
    cursor.close()


# hide_parameters: a failing statement's values (free text, encrypted fields) never reach an
# exception message, and so never a log line.
def make_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    if is_sqlite(url):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 10}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True,
                               hide_parameters=True)


def make_sync_engine(url: str) -> Engine:
    url = sync_url(url)
    if is_sqlite(url):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(url: str, secret_key: str | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    if secret_key:  # migrations that encrypt existing rows read it (else env or var/secret.key)
        config.attributes["secret_key"] = secret_key
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head", *, secret_key: str | None = None) -> None:
    """Run the Alembic migrations (synchronously, before the event loop starts). On PostgreSQL
    under MIGRATION_LOCK_KEY: concurrent upgrades wait for each other. `secret_key` is for
    migrations that encrypt rows already stored (else REGIEBOT_SECRET_KEY or var/secret.key)."""
    from alembic import command

    command.upgrade(_alembic_config(url, secret_key), revision)


def schema_is_current(url: str) -> bool:
    """True when the database is at the newest migration (`regiebot run` does not migrate)."""
    engine = make_sync_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False
            current = connection.execute(text("SELECT version_num FROM alembic_version"))
            return list(current.scalars()) == [SCHEMA_HEAD]
    finally:
        engine.dispose()


def downgrade(url: str, revision: str, *, secret_key: str | None = None) -> None:
    from alembic import command

    command.downgrade(_alembic_config(url, secret_key), revision)
