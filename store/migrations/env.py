"""Alembic environment: migrations run on a synchronous engine before the bot starts.

On PostgreSQL the migration transaction first takes an advisory lock (MIGRATION_LOCK_KEY), so
upgrades started at the same moment (two replicas, a compose restart) run one after the other.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from store.db import MIGRATION_LOCK_KEY, is_sqlite, make_sync_engine, owned_by_models
from store.models import Base

config = context.config
target_metadata = Base.metadata


def wait_for_other_migrations(connection: Connection) -> None:
    """PostgreSQL: hold the migration lock until this transaction ends. Alembic reads the
    current revision after this, so a second upgrade sees what the first one committed."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    engine = make_sync_engine(url)
    with engine.connect() as connection:
        if is_sqlite(url):
            # SQLite changes a column by copying the table and dropping the old one. With
            # foreign keys enforced that drop would delete (cascade) the rows that point to it.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite(url),
            compare_type=True,
            include_object=owned_by_models,
        )
        with context.begin_transaction():
            wait_for_other_migrations(connection)
            context.run_migrations()
        if is_sqlite(url):
            problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            connection.commit()
            if problems:
                raise RuntimeError(f"na de migratie kloppen {len(problems)} verwijzingen niet")
    engine.dispose()


run_migrations()
