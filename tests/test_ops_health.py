"""/healthz: the database, the scheduler and the platforms; 503 while the database is cut off,
200 again when it is back. Real PostgreSQL: the test database is closed to new connections and
every open one is terminated (pg_terminate_backend), as when the server goes away."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import psycopg
import pytest

from bot.delivery import Deliveries
from bot.http import make_web_app, serve
from bot.ops import Operations
from bot.platforms import telegram_probe
from bot.scheduler import start_scheduler
from bot.settings import Settings
from bot.telegram.adapter import create_telegram
from commands.context import Services
from commands.organisation import Organisation
from commands.orgsync import sync_organisation
from store.crypto import PersonalDataCipher
from store.db import make_engine, make_sessionmaker, upgrade
from tests.conftest import PG_ADMIN_URL, TEST_KEY, _pg_available
from tests.faketelegram import FakeTelegram, free_port, telegram_settings


@pytest.fixture
def own_pg_database() -> Iterator[tuple[str, str]]:
    """A PostgreSQL database of this test alone (it is cut off and restored)."""
    problem = _pg_available()
    if problem:
        pytest.skip(f"PostgreSQL is niet bereikbaar: {problem}")
    name = f"regiebot_health_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield name, url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cut_off(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))


def restore(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@pytest.fixture
async def pg_services(own_pg_database: tuple[str, str], org: Organisation) -> AsyncIterator[Services]:
    engine = make_engine(own_pg_database[1])
    services = Services(sessions=make_sessionmaker(engine), org=org,
                        cipher=PersonalDataCipher(TEST_KEY),
                        clock=lambda: datetime(2026, 11, 24, 7, 0, tzinfo=UTC))
    async with services.transaction() as session:
        await sync_organisation(session, org)
    yield services
    await engine.dispose()


async def _get(port: int, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as client, \
            client.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.json()


async def test_healthz_fails_while_the_database_is_cut_off_and_recovers(
    pg_services: Services, own_pg_database: tuple[str, str]
) -> None:
    name, url = own_pg_database
    settings = Settings(_env_file=None, REGIEBOT_DATABASE_URL=url, REGIEBOT_SECRET_KEY=TEST_KEY)
    scheduler = await start_scheduler(pg_services, Deliveries(), settings, lock_retry_seconds=3600)
    ops = Operations(pg_services, scheduler=scheduler)
    port = free_port()
    runner = await serve(make_web_app(ops), "127.0.0.1", port)
    try:
        status, report = await _get(port, "/healthz")
        assert status == 200, report
        assert report["checks"]["database"] == {"ok": True}
        assert report["checks"]["scheduler"]["role"] == "leader"
        assert report["checks"]["scheduler"]["ok"] is True

        cut_off(name)
        status, report = await _get(port, "/healthz")
        assert status == 503
        assert report["status"] == "fout"
        assert report["checks"]["database"]["ok"] is False
        assert "password" not in str(report) and url not in str(report)

        restore(name)
        status, report = await _get(port, "/healthz")
        assert status == 200, report
        assert report["checks"]["database"] == {"ok": True}
    finally:
        await runner.cleanup()
        await scheduler.stop()


async def test_a_platform_that_is_down_makes_healthz_fail(services: Services) -> None:
    """A Telegram bot that has not started (or has stopped) is reported as down."""
    fake = FakeTelegram()
    await fake.start()
    telegram = create_telegram(services, telegram_settings(fake), Deliveries())
    ops = Operations(services)
    ops.platforms["telegram"] = telegram_probe(telegram)
    port = free_port()
    runner = await serve(make_web_app(ops), "127.0.0.1", port)
    try:
        status, report = await _get(port, "/healthz")
        assert status == 503 and report["checks"]["telegram"]["ok"] is False
        await telegram.start()
        status, report = await _get(port, "/healthz")
        assert status == 200, report
        assert report["checks"]["telegram"] == {"ok": True, "mode": "polling", "polling": True}
        await telegram.stop()
        status, report = await _get(port, "/healthz")
        assert status == 503
    finally:
        await runner.cleanup()
        await fake.stop()
