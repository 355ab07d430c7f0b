"""Helpers for the free-text tests: a made-up name to type into every free-text field, and a
look at the stored bytes (the SQLite file, every PostgreSQL table, pg_dump when it runs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from commands.context import Services
from store.db import sync_url
from tests.conftest import Database

# Distinctive and made up: not the household's own name (that one is refused at the door).
FIRST, LAST = "Zwanette", "Quirijnsdochter"
NAME = f"{FIRST} {LAST}"


def note(field: str) -> str:
    """A free text that names a person, tagged with the field it was typed into."""
    return f"Gesproken met {NAME} over {field}, zij helpt mee."


def database_bytes(database: Database) -> bytes:
    """What the database holds, as bytes: the SQLite file with its WAL, or every value of every
    PostgreSQL table (plus a pg_dump of the data when pg_dump can talk to the server)."""
    if database.kind == "sqlite":
        path = Path(str(make_url(database.url).database))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    return _postgres_values(database.url) + _pg_dump(database.url)


def _postgres_values(url: str) -> bytes:
    engine = create_engine(sync_url(url))
    parts: list[bytes] = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        parts.append(bytes(value))
                    elif value is not None:
                        parts.append(str(value).encode("utf-8"))
    engine.dispose()
    return b"\n".join(parts)


def _pg_dump(url: str) -> bytes:
    if shutil.which("pg_dump") is None:
        return b""
    parsed = make_url(sync_url(url))
    done = subprocess.run(
        ["pg_dump", "--data-only", "-h", str(parsed.host), "-p", str(parsed.port or 5432),
         "-U", str(parsed.username), str(parsed.database)],
        capture_output=True, check=False, timeout=60)
    return done.stdout if done.returncode == 0 else b""


def assert_not_stored(database: Database) -> None:
    stored = database_bytes(database)
    assert stored, "nothing read from the database"
    for word in (FIRST, LAST):
        assert word.encode() not in stored, f"{word} staat leesbaar in de database"


async def private_view(services: Services, member_id: str, reference: str) -> str:
    """The toelichting as the member sees it privately (plain text)."""
    from commands.toelichting import show_free_text
    from messages.render import renderer

    member = services.org.member(member_id)
    assert member is not None
    result = await show_free_text(services, member, reference)
    assert all(reply.personal for reply in result.replies)
    return "\n".join(renderer("plain").render(reply) for reply in result.replies)
