"""`regiebot db upgrade` started twice at once on a fresh PostgreSQL database (two replicas, the
compose `migrate` service restarting): both wait on the migration lock and succeed, one after
the other, and the schema ends at the newest revision."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from store.db import MIGRATION_LOCK_KEY, MIGRATIONS
from tests.conftest import EXAMPLE_ORG, PG_ADMIN_URL, _pg_available


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    problem = _pg_available()
    if problem:
        pytest.skip(f"PostgreSQL is niet bereikbaar: {problem}")
    name = f"regiebot_migrate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _waiting_for_the_lock(url: str, count: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(1200):  # checks the condition; gives up after about two minutes
            row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                               "AND NOT granted AND objid = %s", (MIGRATION_LOCK_KEY,)).fetchone()
            if row and row[0] >= count:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"er wachten geen {count} upgrades op het migratieslot")


async def test_two_concurrent_upgrades_run_one_after_the_other(fresh_pg_url: str) -> None:
    env = {**os.environ, "REGIEBOT_DATABASE_URL": fresh_pg_url, "REGIEBOT_CONFIG": str(EXAMPLE_ORG)}
    with psycopg.connect(fresh_pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))  # as a running upgrade
        upgrades = [await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "db", "upgrade", env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE) for _ in range(2)]
        try:
            await _waiting_for_the_lock(fresh_pg_url, 2)
            tables = holder.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
            assert tables == (0,)  # nothing happened while the lock was held
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
        results = [await asyncio.wait_for(p.communicate(), 120) for p in upgrades]
    for process, (_out, err) in zip(upgrades, results, strict=True):
        assert process.returncode == 0, err.decode()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with psycopg.connect(fresh_pg_url) as conn:
        heads = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert heads == [(ScriptDirectory.from_config(config).get_current_head(),)]
