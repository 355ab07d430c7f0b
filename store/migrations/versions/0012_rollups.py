"""Figure rollups: counts and lead-time histograms per day and per month, and each case's
contribution.

A database that already has cases is marked as not yet counted: the first /rapport (or
`regiebot cijfers herbereken`) counts every case first.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollup_counts",
        sa.Column("span", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("regieteam_id", sa.String(length=32), nullable=False),
        sa.Column("corporation_id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=60), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("scenario", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("children", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("span", "day", "kind", "regieteam_id", "corporation_id", "category",
                                "outcome", "scenario", "reason", "children",
                                name=op.f("pk_rollup_counts")),
    )
    op.create_table(
        "rollup_lead_times",
        sa.Column("span", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("regieteam_id", sa.String(length=32), nullable=False),
        sa.Column("corporation_id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=60), nullable=False),
        sa.Column("days", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("span", "day", "measure", "regieteam_id", "corporation_id", "category",
                                "days", name=op.f("pk_rollup_lead_times")),
    )
    op.create_table(
        "rollup_cases",
        sa.Column("case_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_rollup_cases_case_id_cases"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_rollup_cases")),
    )
    op.create_table(
        "rollup_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_state")),
    )
    has_cases = op.get_bind().execute(sa.text("SELECT 1 FROM cases LIMIT 1")).first() is not None
    state = sa.table("rollup_state", sa.column("id", sa.Integer()),
                     sa.column("counted", sa.Boolean()))
    op.bulk_insert(state, [{"id": 1, "counted": not has_cases}])


def downgrade() -> None:
    op.drop_table("rollup_state")
    op.drop_table("rollup_cases")
    op.drop_table("rollup_lead_times")
    op.drop_table("rollup_counts")
