"""Shared set-up for benchmarks: a fresh SQLite file or PostgreSQL database, migrated."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet

from commands.context import Services
from commands.organisation import load_organisation
from store.crypto import PersonalDataCipher
from store.db import make_engine, make_sessionmaker, upgrade

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("REGIEBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A migrated, empty database that is removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            upgrade(url)
            yield url
        return
    name = f"regiebot_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def services_for(url: str) -> Services:
    org = load_organisation(ROOT / "deploy" / "regieteam.example.yaml")
    return Services(sessions=make_sessionmaker(make_engine(url)), org=org,
                    cipher=PersonalDataCipher(Fernet.generate_key().decode()))


def available_kinds() -> list[str]:
    """SQLite always; PostgreSQL when it answers (said out loud when it does not)."""
    if pg_available():
        return ["sqlite", "postgresql"]
    print(f"PostgreSQL op {PG_ADMIN_URL} niet bereikbaar: alleen SQLite gemeten")
    return ["sqlite"]


async def timed(action: Callable[[], Awaitable[object]], repeat: int = 5, warmup: bool = False) -> float:
    """Median seconds of `repeat` runs (after one unmeasured run with `warmup`)."""
    if warmup:
        await action()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        await action()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)
