"""Bringing the Reminder rows of a case in line with its state.

`sync_case_reminders` derives the wanted reminders (`rules.wanted`) and makes the table agree:
missing rows are inserted (idempotently, by `dedupe_key`), rows that no longer fit are
cancelled with a reason, and rows cancelled only because a date changed come back when the
date changes back. It runs inside the caller's transaction after every change of a case,
after a recurring reminder was sent (to add the next one) and once a day for all open cases.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from commands.context import Services, aware
from commands.reminders.rows import (
    cancel,
    insert_reminders,
    is_aftercare,
    is_open,
    new_reminder,
    request_still_open,
    series_of,
)
from commands.reminders.rules import (
    CHANGED,
    CLOSED,
    CONFIRM_ONCE,
    DONE,
    NEVER,
    POSTPONE_MARK,
    POSTPONED,
    STAYS_PREFIX,
    SYNCED_KINDS,
    CaseState,
    Spec,
    add_months,
    reason_for,
    target_of,
    tenant_stays,
    wanted,
)
from commands.words import Phase, ReminderKind
from store.models import Assignment, Case, Decision, Feedback, NazorgCheck, Reminder


async def _load_state(session: AsyncSession, services: Services, case: Case) -> CaseState:
    decision = await session.scalar(
        select(Decision).where(Decision.case_id == case.id, Decision.superseded_at.is_(None))
        .order_by(Decision.recorded_at.desc(), Decision.id.desc()).limit(1)
    )
    appointed_at = await session.scalar(
        select(Assignment.appointed_at).where(Assignment.case_id == case.id,
                                              Assignment.ended_at.is_(None))
        .order_by(Assignment.appointed_at.desc()).limit(1)
    )
    last_feedback = await session.scalar(
        select(func.max(Feedback.given_at)).where(Feedback.case_id == case.id)
    )
    checks: dict[int, NazorgCheck] = {}
    if case.phase == Phase.GESLOTEN and case.closed_at and tenant_stays(case):
        checks = await _ensure_nazorg_checks(session, services, case)
    rows = list((await session.scalars(
        select(Reminder).where(Reminder.case_id == case.id).order_by(Reminder.id)
    )).all())
    return CaseState(decision, aware(appointed_at) if appointed_at else None,
                     aware(last_feedback) if last_feedback else None, checks, rows)


async def _ensure_nazorg_checks(
    session: AsyncSession, services: Services, case: Case
) -> dict[int, NazorgCheck]:
    assert case.closed_at is not None
    closed_day = services.local(case.closed_at).date()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for months in services.org.rules.reminders.nazorg_months:
        await session.execute(
            insert(NazorgCheck).values(case_id=case.id, months=months,
                                       due_date=add_months(closed_day, months))
            .on_conflict_do_nothing()
        )
    found = (await session.scalars(select(NazorgCheck).where(NazorgCheck.case_id == case.id))).all()
    return {check.months: check for check in found}


async def sync_case_reminders(session: AsyncSession, services: Services, case: Case) -> None:
    """Create, reschedule or cancel the reminder rows that follow from the case's state."""
    now = services.now()
    state = await _load_state(session, services, case)
    done_series = {series_of(r) for r in state.rows if r.done_at is not None}
    done_kinds = {r.kind for r in state.rows if r.done_at is not None and r.kind in CONFIRM_ONCE}
    postponed: dict[tuple[str, str], datetime] = {}  # (series, target) → until
    for row in state.rows:
        if row.postponed_to is not None:
            held_key = (series_of(row), target_of(row.target_partner_id, row.target_member_id))
            moment = aware(row.postponed_to)
            postponed[held_key] = max(postponed.get(held_key, moment), moment)
    until = max([now, *postponed.values()])
    wanted_now = {
        spec.key: spec for spec in wanted(services, case, state, until)
        if spec.series not in done_series and spec.kind not in done_kinds
        and not spec.due_at <= postponed.get((spec.series, spec.target), NEVER)
    }
    wanted_series = {spec.series for spec in wanted_now.values()}
    existing = {row.dedupe_key: row for row in state.rows}

    for row in state.rows:
        if not is_open(row) or row.kind not in SYNCED_KINDS:
            continue
        series = series_of(row)
        if POSTPONE_MARK in row.dedupe_key:  # a postponed copy lives while its series does
            if series in done_series or row.kind in done_kinds:
                cancel(row, now, DONE)
            elif series not in wanted_series:
                cancel(row, now, reason_for(case, state, row))
            continue
        spec = wanted_now.get(row.dedupe_key)
        if spec is None:
            done = series in done_series or row.kind in done_kinds
            held = aware(row.due_at) <= postponed.get(
                (series, target_of(row.target_partner_id, row.target_member_id)), NEVER)
            cancel(row, now, DONE if done else POSTPONED if held else reason_for(case, state, row))
        elif row.attempts == 0 and aware(row.due_at) != spec.due_at and aware(row.due_at) > now:
            # e.g. the send time in the rules changed; a reminder whose moment has come (it
            # may be on its way) keeps it and is sent
            row.due_at = spec.due_at

    if case.phase == Phase.GESLOTEN:
        for row in state.rows:
            open_escalation = (is_open(row) and row.kind == ReminderKind.ESCALATIE
                               and not is_aftercare(row))
            if open_escalation or request_still_open(row):  # a sent MBZ/JB request stops too
                cancel(row, now, CLOSED)

    await session.flush()
    await insert_reminders(session, _missing(case, wanted_now, existing, now))


def _missing(
    case: Case, wanted_now: dict[str, Spec], existing: dict[str, Reminder], now: datetime,
) -> list[dict[str, Any]]:
    # Of the wanted occurrences already in the past, only the latest of each series is ever
    # created (and sent at once, marked late). Older ones that were missed stay missed, also
    # at the next sync after that one was sent: after downtime one message per series.
    latest_past: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for spec in wanted_now.values():
        if spec.due_at <= now:
            latest_past[spec.series] = max(latest_past.get(spec.series, -1), spec.n)
    for key, spec in wanted_now.items():
        row = existing.get(key)
        if row is not None:
            if (row.cancelled_at is not None and row.cancel_reason == CHANGED
                    and row.sent_at is None and spec.due_at > now):  # the date changed back
                row.cancelled_at, row.cancel_reason, row.due_at = None, None, spec.due_at
            continue
        if spec.due_at <= now and spec.n != latest_past.get(spec.series):
            continue
        rows.append(new_reminder(
            key, spec.kind, case.id, spec.due_at,
            {"series": spec.series, "n": spec.n, **spec.payload},
            partner_id=spec.partner_id, member_id=spec.member_id))
    return rows


async def sync_open_cases(services: Services) -> int:
    """Sync every case that can still have reminders (the daily refresh). Returns the count."""
    months = max(services.org.rules.reminders.nazorg_months, default=0)
    aftercare_since = services.now() - timedelta(days=31 * (months + 1))
    async with services.transaction() as session:
        ids = list((await session.scalars(
            select(Case.id).where(
                (Case.phase != Phase.GESLOTEN)
                | (Case.outcome.like(f"{STAYS_PREFIX}%") & (Case.closed_at >= aftercare_since)))
        )).all())
    for case_id in ids:
        async with services.transaction() as session:
            case = await session.get(Case, case_id)
            if case is not None:
                await sync_case_reminders(session, services, case)
    return len(ids)
