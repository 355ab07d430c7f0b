"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from store.db import downgrade, make_sync_engine, owned_by_models, upgrade
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
