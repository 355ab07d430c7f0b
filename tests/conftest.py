"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, the example organisation,
and services with a controllable clock.

PostgreSQL: a fresh database per test run on 127.0.0.1:5432 (REGIEBOT_TEST_PG_URL overrides).
When it cannot be reached the PostgreSQL tests are skipped with a clear reason, except under
CI (CI=true), where that is an error.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from commands.context import Services
from commands.organisation import Organisation, load_organisation
from commands.orgsync import sync_organisation
from store.crypto import PersonalDataCipher
from store.db import make_engine, make_sessionmaker, upgrade
from store.models import Base
from tests.fakeslack import fake_slack, fake_slack_server, slack_bot
from tests.faketelegram import fake_telegram, telegram_bot, telegram_deliveries, telegram_forums

# fixtures shared by the Slack and the Telegram tests
__all__ = ["fake_slack", "fake_slack_server", "fake_telegram", "slack_bot", "telegram_bot",
           "telegram_deliveries", "telegram_forums"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_ORG = ROOT / "deploy" / "regieteam.example.yaml"
PG_ADMIN_URL = os.environ.get("REGIEBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_KEY = Fernet.generate_key().decode()


class Clock:
    """A clock the test moves by hand. Always timezone-aware UTC."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment.astimezone(UTC)

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.moment += timedelta(**delta)


@dataclass
class Database:
    kind: str
    url: str


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, migrated to the newest schema."""
    problem = _pg_available()
    if problem:
        message = f"PostgreSQL op {PG_ADMIN_URL} is niet bereikbaar: {problem}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (onder CI is PostgreSQL verplicht)", pytrace=False)
        pytest.skip(message)
    name = f"regiebot_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy of it."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """Every test that asks for a database runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "regiebot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return Database("sqlite", f"sqlite+aiosqlite:///{path}")
    url = request.getfixturevalue("pg_database")
    return Database("postgresql", url)


@pytest.fixture
def org() -> Organisation:
    return load_organisation(EXAMPLE_ORG)


@pytest.fixture
def clock() -> Clock:
    # Tuesday 24 November 2026, 08:00 in Amsterdam
    return Clock(datetime(2026, 11, 24, 7, 0, tzinfo=UTC))


async def _truncate_all(services: Services) -> None:
    async with services.transaction() as session:
        names = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
        await session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def services(database: Database, org: Organisation, clock: Clock) -> AsyncIterator[Services]:
    engine = make_engine(database.url)
    svc = Services(sessions=make_sessionmaker(engine), org=org,
                   cipher=PersonalDataCipher(TEST_KEY), clock=clock)
    if database.kind == "postgresql":
        await _truncate_all(svc)
    async with svc.transaction() as session:
        await sync_organisation(session, org)
    yield svc
    await engine.dispose()


def member(org: Organisation, member_id: str) -> Any:
    found = org.member(member_id)
    assert found is not None, member_id
    return found
