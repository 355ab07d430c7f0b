"""Reminder kinds spelled in Dutch, like every other domain word.

The stored kinds "urgent", "eviction_near", "escalation" and "delivery_failed" become
"spoed", "ontruiming_nabij", "escalatie" and "bezorging_mislukt". The keys that are built
from a kind change with it: the dedupe_key and payload "series" of a spoed reminder
("urgent:…" → "spoed:…", postponed copies included), the dedupe_key of an escalation or a
failure report, and the payload "soort" of an escalation or failure report (the kind of the
reminder it is about). The case history (events) keeps what it recorded.

Revision ID: 0008
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUTCH = {
    "urgent": "spoed",
    "eviction_near": "ontruiming_nabij",
    "escalation": "escalatie",
    "delivery_failed": "bezorging_mislukt",
}
ENGLISH = {dutch: english for english, dutch in DUTCH.items()}

reminders = sa.table(
    "reminders",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("dedupe_key", sa.String),
    sa.column("payload", sa.JSON),
)


def _prefixed(value: str, names: Mapping[str, str]) -> str:
    """"urgent:12:2026-12-04:0:m:carla" → "spoed:12:…" (keys of other kinds stay as they are)."""
    head, sep, rest = value.partition(":")
    return f"{names[head]}{sep}{rest}" if sep and head in names else value


def _rename(names: Mapping[str, str]) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(reminders.c.id, reminders.c.kind, reminders.c.dedupe_key, reminders.c.payload)
        .where(reminders.c.kind.in_(list(names)))
    ).all()
    for row_id, kind, key, payload in rows:
        new_payload: dict[str, Any] = dict(payload or {})
        if isinstance(new_payload.get("soort"), str):
            new_payload["soort"] = names.get(new_payload["soort"], new_payload["soort"])
        if isinstance(new_payload.get("series"), str):
            new_payload["series"] = _prefixed(new_payload["series"], names)
        connection.execute(
            sa.update(reminders).where(reminders.c.id == row_id)
            .values(kind=names[kind], dedupe_key=_prefixed(key, names), payload=new_payload)
        )


def upgrade() -> None:
    _rename(DUTCH)


def downgrade() -> None:
    _rename(ENGLISH)
