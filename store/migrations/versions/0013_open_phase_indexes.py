"""Partial indexes on the open phases: the agenda, App Home and /status read open cases only;
and on the requests still waiting for an answer (/status "bevestigingen").

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_CASE = "phase != 'gesloten'"
INDEXES: dict[str, list[str]] = {
    "ix_cases_open_regieteam": ["regieteam_id", "phase"],
    "ix_cases_open_corporation": ["corporation_id", "phase"],
    "ix_cases_open_casemanager": ["casemanager_id", "termijn"],
    "ix_cases_open_termijn": ["phase", "termijn"],
    "ix_cases_open_terugkoppeling": ["phase", "next_terugkoppeling"],
}
OPEN_REMINDER = "done_at IS NULL AND cancelled_at IS NULL"


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "cases", columns, unique=False,
                        sqlite_where=sa.text(OPEN_CASE), postgresql_where=sa.text(OPEN_CASE))
    op.create_index("ix_reminders_open_kind", "reminders", ["kind", "due_at"], unique=False,
                    sqlite_where=sa.text(OPEN_REMINDER), postgresql_where=sa.text(OPEN_REMINDER))


def downgrade() -> None:
    op.drop_index("ix_reminders_open_kind", table_name="reminders")
    for name in INDEXES:
        op.drop_index(name, table_name="cases")
