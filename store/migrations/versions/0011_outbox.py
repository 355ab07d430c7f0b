"""The outbox: every outgoing message, written with the change that causes it.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destination_kind", sa.String(length=16), nullable=False),
        sa.Column("destination_id", sa.String(length=64), nullable=False),
        sa.Column("thread_case", sa.Integer(), nullable=True),
        sa.Column("update_key", sa.String(length=120), nullable=True),
        sa.Column("template", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_waiting", "outbox",
                    ["sent_at", "cancelled_at", "failed_at", "id"], unique=False)
    op.create_index("ix_outbox_update_key", "outbox", ["update_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_update_key", table_name="outbox")
    op.drop_index("ix_outbox_waiting", table_name="outbox")
    op.drop_table("outbox")
