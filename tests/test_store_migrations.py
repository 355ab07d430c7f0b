"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from store.db import make_sync_engine, owned_by_models
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
