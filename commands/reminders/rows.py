"""Small helpers on Reminder rows, shared by sync, answers and dispatch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from commands.reminders.rules import CONFIRM_ONCE
from commands.words import ReminderKind
from store.models import Reminder


def series_of(row: Reminder) -> str:
    return str((row.payload or {}).get("series", ""))


def is_aftercare(row: Reminder) -> bool:
    """Reminders that belong after closure: nazorg, its escalations, failure reports."""
    return row.kind in (ReminderKind.NAZORG, ReminderKind.BEZORGING_MISLUKT) or (
        row.kind == ReminderKind.ESCALATIE
        and (row.payload or {}).get("soort") == ReminderKind.NAZORG)


def is_open(row: Reminder) -> bool:
    return row.sent_at is None and row.cancelled_at is None and row.failed_at is None


def request_still_open(row: Reminder) -> bool:
    """A request that was sent and waits for "Gedaan" (MBZ registration, Jeugdbescherming)."""
    return (row.kind in CONFIRM_ONCE and row.sent_at is not None and row.done_at is None
            and row.cancelled_at is None)


def cancel(row: Reminder, now: datetime, reason: str) -> None:
    row.cancelled_at, row.cancel_reason = now, reason


def cancel_escalations(rows: Sequence[Reminder], of: set[int], series: str | None,
                       now: datetime, reason: str) -> None:
    """Call off the open escalations about the reminders `of` (or about a whole series)."""
    for row in rows:
        if row.kind != ReminderKind.ESCALATIE or not is_open(row):
            continue
        if row.payload.get("of") in of or (series and row.payload.get("series") == series):
            cancel(row, now, reason)


async def case_rows(session: AsyncSession, reminder: Reminder) -> list[Reminder]:
    """Every reminder row of the reminder's case (only the reminder itself without a case)."""
    if reminder.case_id is None:
        return [reminder]
    return list((await session.scalars(
        select(Reminder).where(Reminder.case_id == reminder.case_id)
    )).all())


def new_reminder(
    key: str, kind: str, case_id: int | None, due_at: datetime, payload: dict[str, Any], *,
    partner_id: str | None = None, member_id: str | None = None,
) -> dict[str, Any]:
    return {"dedupe_key": key, "kind": str(kind), "case_id": case_id,
            "target_partner_id": partner_id, "target_member_id": member_id, "due_at": due_at,
            "payload": payload}


async def insert_reminders(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert rows made by `new_reminder`; a row whose dedupe_key exists already is skipped
    (another transaction may have created it at the same moment)."""
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(Reminder).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"]))
