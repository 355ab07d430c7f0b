"""Indexes for the status overview: terugkoppeling due per phase, open requests per kind.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cases_phase_terugkoppeling", "cases", ["phase", "next_terugkoppeling"])
    op.create_index("ix_reminders_kind_case", "reminders", ["kind", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_reminders_kind_case", table_name="reminders")
    op.drop_index("ix_cases_phase_terugkoppeling", table_name="cases")
