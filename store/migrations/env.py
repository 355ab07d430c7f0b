"""Alembic environment: migrations run on a synchronous engine before the bot starts."""

from __future__ import annotations

from alembic import context

from store.db import is_sqlite, make_sync_engine, owned_by_models
from store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    engine = make_sync_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite(url),
            compare_type=True,
            include_object=owned_by_models,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
