"""Backup and restore as docs/beheer.md describes it: `pg_dump -Fc` of a database with a
household's encrypted data, `pg_restore` into a fresh database, and the data read back with
the key. The dump alone (without REGIEBOT_SECRET_KEY) shows none of the personal data."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from commands.context import Services
from commands.organisation import Organisation
from commands.orgsync import sync_organisation
from store.crypto import PersonalDataCipher
from store.db import make_engine, make_sessionmaker, upgrade
from store.models import Case, CasePersonalData
from tests.conftest import PG_ADMIN_URL, _pg_available
from tests.helpers import file

KEY = Fernet.generate_key().decode()
PERSONAL = (b"Jan Fictief", b"Verzonnenstraat", b"6511 AB")


def _tools() -> None:
    missing = [tool for tool in ("pg_dump", "pg_restore") if not shutil.which(tool)]
    if missing:
        pytest.skip(f"{' en '.join(missing)} ontbreekt (postgresql-client)")
    problem = _pg_available()
    if problem:
        pytest.skip(f"PostgreSQL is niet bereikbaar: {problem}")


@pytest.fixture
def two_databases() -> Iterator[tuple[str, str]]:
    _tools()
    names = [f"regiebot_backup_{uuid.uuid4().hex[:8]}_{n}" for n in ("bron", "terug")]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield base + "/" + names[0], base + "/" + names[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _tool(*command: str) -> bytes:
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return out


async def _services(url: str, org: Organisation, key: str) -> Services:
    services = Services(sessions=make_sessionmaker(make_engine(url)), org=org,
                        cipher=PersonalDataCipher(key))
    return services


async def _household(services: Services) -> tuple[str, str, str, str]:
    async with services.transaction() as session:
        case = (await session.scalars(select(Case))).one()
        row = (await session.scalars(select(CasePersonalData).where(
            CasePersonalData.case_id == case.id))).one()
    cipher = services.cipher
    return (case.reference, cipher.decrypt(row.tenant_name), cipher.decrypt(row.address),
            cipher.decrypt(row.postcode))


async def test_dump_restore_and_read_the_household_back_with_the_key(
    two_databases: tuple[str, str], org: Organisation, tmp_path: Path
) -> None:
    source, target = two_databases
    upgrade(source)
    services = await _services(source, org, KEY)
    try:
        async with services.transaction() as session:
            await sync_organisation(session, org)
        reference = (await file(services)).value
        before = await _household(services)
    finally:
        await services.sessions.kw["bind"].dispose()

    dump = tmp_path / "regiebot.dump"
    await _tool("pg_dump", "--format=custom", "--no-owner", f"--file={dump}", source)
    plain = await _tool("pg_restore", "--file=-", str(dump))
    assert b"case_personal_data" in plain and not any(p in plain for p in PERSONAL)

    await _tool("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={target}", str(dump))
    upgrade(target)  # a restored database is at head already: nothing to do
    restored = await _services(target, org, KEY)
    try:
        assert await _household(restored) == before
        assert before[0] == reference and before[1] == "Jan Fictief"
    finally:
        await restored.sessions.kw["bind"].dispose()

    without_key = await _services(target, org, Fernet.generate_key().decode())
    try:
        with pytest.raises(ValueError, match="ontsleuteld"):
            await _household(without_key)
    finally:
        await without_key.sessions.kw["bind"].dispose()
