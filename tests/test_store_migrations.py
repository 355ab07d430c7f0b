"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from store.db import (
    MIGRATIONS,
    SCHEMA_HEAD,
    downgrade,
    make_sync_engine,
    owned_by_models,
    schema_is_current,
    upgrade,
)
from store.models import Base
from tests.conftest import Database


def test_migrations_match_models(database: Database) -> None:
    engine = make_sync_engine(database.url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": owned_by_models})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/roundtrip.db"
    upgrade(url)
    downgrade(url, "0001")
    upgrade(url)
    engine = make_sync_engine(url)
    with engine.connect() as connection:
        indexes = {ix["name"] for ix in inspect(connection).get_indexes("cases")}
    engine.dispose()
    assert "ix_cases_phase_terugkoppeling" in indexes


def test_the_schema_head_that_run_checks_is_alembics_one_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_HEAD]


def test_the_schema_is_current_only_at_the_newest_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/versie.db"
    assert not schema_is_current(url)  # an empty database
    upgrade(url)
    assert schema_is_current(url)
    downgrade(url, "0012")
    assert not schema_is_current(url)


def test_a_migrated_database_is_current(database: Database) -> None:
    assert schema_is_current(database.url)
