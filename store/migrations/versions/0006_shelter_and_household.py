"""Shelter as a choice, the report of a protected household that left, household corrections.

Whether a household is protected is no longer stored: it follows from the household's
current categories and children and the organisation's current `protected_categories`.

Revision ID: 0006
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("shelter_kind", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("reported_to", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("reported_on", sa.Date(), nullable=True))
        batch.drop_column("protected")
    op.create_table(
        "household_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("corrected_by", sa.String(length=32), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("categories_before", sa.JSON(), nullable=False),
        sa.Column("categories_after", sa.JSON(), nullable=False),
        sa.Column("children_before", sa.Integer(), nullable=False),
        sa.Column("children_after", sa.Integer(), nullable=False),
        sa.Column("reason", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_household_corrections_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["corrected_by"], ["members.id"],
                                name=op.f("fk_household_corrections_corrected_by_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_corrections")),
    )
    op.create_index(op.f("ix_household_corrections_case_id"), "household_corrections", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_household_corrections_case_id"), table_name="household_corrections")
    op.drop_table("household_corrections")
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("protected", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.drop_column("reported_on")
        batch.drop_column("reported_to")
        batch.drop_column("shelter_kind")
    # the stored flag as it was computed at filing, from the data as it is now
    op.execute(sa.text(
        "UPDATE cases SET protected = (minor_children > 0 OR EXISTS (SELECT 1 FROM case_categories c "
        "WHERE c.case_id = cases.id AND c.category IN ('gezin_met_minderjarige_kinderen', 'kwetsbaar')))"))
