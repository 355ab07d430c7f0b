"""Sending due reminders: claim, deliver, record, escalate, and report what could not be sent.

Reminder rows are claimed atomically, so even two dispatchers never send one reminder twice.
Each delivery's outcome is recorded at once (a crash mid-batch does not send again what was
sent). A failed delivery is retried with backoff; after MAX_ATTEMPTS the coordinators get a
`bezorging_mislukt` reminder. A reminder to a partner channel that nobody acknowledges in
time gets an `escalatie` to the coordinators. Delivery goes through the Courier interface
(`commands.courier.Sender`): the bot hands in its Deliveries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select, update

from commands import events
from commands.context import Services
from commands.courier import DeliveryFailed, Sender
from commands.dispatcher import CLAIM_TIMEOUT, MAX_ATTEMPTS, backoff, per_destination
from commands.reminders.message import destination, is_late, reminder_outgoing
from commands.reminders.rows import insert_reminders, is_aftercare, new_reminder, series_of
from commands.reminders.rules import CLOSED, DONE, ESCALATING, SERIES_KINDS, coordinators
from commands.reminders.sync import sync_case_reminders
from commands.replies import Destination
from commands.words import Phase, ReminderKind
from commands.workdays import add_working_days
from store.models import Case, Reminder

log = logging.getLogger(__name__)

__all__ = ["BATCH", "CLAIM_TIMEOUT", "MAX_ATTEMPTS", "backoff", "dispatch_due",
           "release_claims", "release_claims_of_others"]

BATCH = 100
PER_DESTINATION = 5  # rows of one destination in a first claim, and in each next one
SUPERSEDED = "samengevoegd met een latere herinnering"


# --- escalation and failure reports ----------------------------------------------------------


def escalation_for(
    services: Services, reminder: Reminder, sent_at: datetime
) -> list[dict[str, Any]]:
    """Rows that escalate to the coordinator(s) when nobody at the partner answers in time."""
    if not reminder.target_partner_id or reminder.kind not in ESCALATING:
        return []
    within = services.org.rules.reminders.acknowledge_within_working_days
    local = services.local(sent_at)
    day = add_working_days(local.date(), within, services.org.rules.working_days)
    due = datetime.combine(day, local.time(), tzinfo=services.timezone).astimezone(UTC)
    payload = {
        "of": reminder.id, "series": series_of(reminder), "soort": reminder.kind,
        "werkdagen": within, "verstuurd": local.date().isoformat(),
        "bestemming": services.org.partner(reminder.target_partner_id).name,
    }
    return [
        new_reminder(f"{ReminderKind.ESCALATIE}:{reminder.id}:m:{coordinator}",
                     ReminderKind.ESCALATIE, reminder.case_id, due, payload, member_id=coordinator)
        for coordinator in coordinators(services)
    ]


def failure_report(services: Services, reminder: Reminder, now: datetime) -> list[dict[str, Any]]:
    """Rows that tell the coordinator(s) a reminder could not be delivered."""
    if reminder.kind == ReminderKind.BEZORGING_MISLUKT:
        return []  # a report that cannot be delivered is logged, not reported again
    if reminder.target_partner_id:
        where = services.org.partner(reminder.target_partner_id).name
    else:
        found = services.org.member(str(reminder.target_member_id))
        where = found.name if found else str(reminder.target_member_id)
    payload = {"of": reminder.id, "soort": reminder.kind, "pogingen": reminder.attempts,
               "bestemming": where}
    return [
        new_reminder(f"{ReminderKind.BEZORGING_MISLUKT}:{reminder.id}:m:{coordinator}",
                     ReminderKind.BEZORGING_MISLUKT, reminder.case_id, now, payload,
                     member_id=coordinator)
        for coordinator in coordinators(services)
    ]


# --- the dispatcher --------------------------------------------------------------------------


@dataclass
class _Outcome:
    reminder_id: int
    sent: bool
    error: str | None = None
    skip_reason: str | None = None


def _claimable(now: datetime) -> tuple[Any, ...]:
    return (Reminder.sent_at.is_(None), Reminder.cancelled_at.is_(None),
            Reminder.failed_at.is_(None), Reminder.due_at <= now,
            or_(Reminder.next_attempt_at.is_(None), Reminder.next_attempt_at <= now),
            or_(Reminder.claimed_at.is_(None), Reminder.claimed_at < now - CLAIM_TIMEOUT))


def _first_per_destination(now: datetime) -> Any:
    """The ids of the first PER_DESTINATION claimable rows of each destination: a batch
    spans many channels, so one channel with most of the reminders does not fill it."""
    ranked = select(Reminder.id, func.row_number().over(
        partition_by=(Reminder.target_partner_id, Reminder.target_member_id),
        order_by=(Reminder.due_at, Reminder.id)).label("rank")).where(*_claimable(now)).subquery()
    return select(ranked.c.id).where(ranked.c.rank <= PER_DESTINATION)


async def _claim(services: Services, worker_id: str, limit: int,
                 to: Destination | None = None) -> list[int]:
    """Claim due reminders atomically: no other worker can claim the same rows. Without `to`,
    at most PER_DESTINATION of each destination; with `to`, the next ones of that one."""
    now = services.now()
    async with services.transaction() as session:
        due = select(Reminder.id).where(*_claimable(now))
        if to is None:
            due = due.where(Reminder.id.in_(_first_per_destination(now)))
        elif to.kind == "partner":
            due = due.where(Reminder.target_partner_id == to.id)
        else:
            due = due.where(Reminder.target_partner_id.is_(None), Reminder.target_member_id == to.id)
        due = due.order_by(Reminder.due_at, Reminder.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        claimed = await session.scalars(
            update(Reminder)
            .where(Reminder.id.in_(due.scalar_subquery()))
            .values(claimed_at=now, claimed_by=worker_id)
            .returning(Reminder.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(claimed.all())


def _newest_of_each_series(rows: Sequence[Reminder]) -> set[int]:
    """The ids of the latest due row per series (kind, case, target) in a batch."""
    newest: dict[tuple[Any, ...], Reminder] = {}
    for row in sorted(rows, key=lambda r: (r.due_at, r.id)):
        single = None if row.kind in SERIES_KINDS else row.id
        newest[(row.kind, row.case_id, row.target_partner_id, row.target_member_id, single)] = row
    return {row.id for row in newest.values()}


async def _sort_batch(
    services: Services, ids: list[int]
) -> tuple[list[_Outcome], list[tuple[Reminder, Case | None]]]:
    """Split a claimed batch into the rows that need no message (with the reason) and the
    rows to send, in due order."""
    async with services.transaction() as session:
        rows = (await session.scalars(select(Reminder).where(Reminder.id.in_(ids)))).all()
        case_ids = {r.case_id for r in rows if r.case_id}
        cases = {c.id: c for c in (await session.scalars(
            select(Case).where(Case.id.in_(case_ids)))).all()} if case_ids else {}
        origin_ids = [int(r.payload["of"]) for r in rows if r.kind == ReminderKind.ESCALATIE]
        origins = {o.id: o for o in (await session.scalars(
            select(Reminder).where(Reminder.id.in_(origin_ids)))).all()} if origin_ids else {}
    newest = _newest_of_each_series(rows)
    skipped: list[_Outcome] = []
    to_send: list[tuple[Reminder, Case | None]] = []
    for row in sorted(rows, key=lambda r: (r.due_at, r.id)):
        case = cases.get(row.case_id) if row.case_id else None
        origin = (origins.get(int(row.payload.get("of", 0)))
                  if row.kind == ReminderKind.ESCALATIE else None)
        if row.id not in newest:  # missed while the bot was down: one message, not several
            skipped.append(_Outcome(row.id, False, skip_reason=SUPERSEDED))
        elif case is not None and case.phase == Phase.GESLOTEN and not is_aftercare(row):
            skipped.append(_Outcome(row.id, False, skip_reason=CLOSED))
        elif origin is not None and (origin.acknowledged_at or origin.done_at):
            skipped.append(_Outcome(row.id, False, skip_reason=DONE))
        else:
            to_send.append((row, case))
    return skipped, to_send


async def _deliver_batch(services: Services, sender: Sender, ids: list[int], worker_id: str,
                         should_stop: Callable[[], bool] = lambda: False) -> int:
    """Deliver a claimed batch, one worker per destination (`commands.dispatcher`); a worker
    that is through claims the next reminders of its own destination. Each delivery's outcome
    is recorded as soon as it is known, so a crash in the middle of a batch does not send
    what was already sent a second time."""
    sent = 0

    async def send(pair: tuple[Reminder, Case | None]) -> None:
        nonlocal sent
        recorded = await _record(services, [await _deliver_one(services, sender, *pair)])
        sent += recorded

    async def more(to: Hashable) -> list[tuple[Reminder, Case | None]]:
        if should_stop() or not isinstance(to, Destination):
            return []
        return await _to_send(services, await _claim(services, worker_id, PER_DESTINATION, to))

    await per_destination(await _to_send(services, ids), lambda pair: destination(pair[0]), send,
                          more=more, should_stop=should_stop)
    return sent


async def _to_send(services: Services, ids: list[int]) -> list[tuple[Reminder, Case | None]]:
    """The claimed rows that need a message; the others are recorded with their reason."""
    if not ids:
        return []
    skipped, to_send = await _sort_batch(services, ids)
    if skipped:
        await _record(services, skipped)
    return to_send


async def _deliver_one(
    services: Services, sender: Sender, row: Reminder, case: Case | None
) -> _Outcome:
    try:
        await sender.deliver(reminder_outgoing(services, row, case))
        return _Outcome(row.id, True)
    except DeliveryFailed as exc:
        return _Outcome(row.id, False, error=str(exc) or type(exc).__name__)
    except Exception as exc:  # a bug must not lose the reminder: retry and report
        log.exception("herinnering %s: bezorgen mislukt door een fout", row.id)
        return _Outcome(row.id, False, error=type(exc).__name__)


async def _record(services: Services, outcomes: list[_Outcome]) -> int:
    """Mark sent / schedule a retry / report, in one short transaction.

    Lock order as in the commands: first the cases (FOR UPDATE on PostgreSQL), then their
    reminder rows, so a command changing a case at the same moment waits instead of
    deadlocking."""
    now, sent = services.now(), 0
    follow_up: set[int] = set()
    extra: list[dict[str, Any]] = []
    ids = [o.reminder_id for o in outcomes]
    async with services.transaction() as session:
        case_ids = sorted({cid for cid in (await session.scalars(select(Reminder.case_id).where(
            Reminder.id.in_(ids)))).all() if cid is not None})
        cases = {c.id: c for c in (await session.scalars(
            select(Case).where(Case.id.in_(case_ids)).order_by(Case.id).with_for_update()
        )).all()} if case_ids else {}
        rows = {r.id: r for r in (await session.scalars(select(Reminder).where(
            Reminder.id.in_(ids)))).all()}
        for outcome in outcomes:
            row = rows[outcome.reminder_id]
            row.claimed_at = None
            if outcome.skip_reason:
                row.cancelled_at, row.cancel_reason = now, outcome.skip_reason
                continue
            row.attempts += 1
            if outcome.sent:
                sent += 1
                row.sent_at, row.last_error, row.next_attempt_at = now, None, None
                row.late = is_late(row, now)
                extra += escalation_for(services, row, now)
                if row.case_id is not None:
                    case = cases[row.case_id]
                    events.record(session, case, "reminder_sent", None, now, reminder=row.id,
                                  soort=row.kind, to=row.target_partner_id or row.target_member_id,
                                  late=row.late)
                    if row.kind in SERIES_KINDS:
                        follow_up.add(case.id)
                continue
            row.last_error = (outcome.error or "")[:300]
            if row.attempts >= MAX_ATTEMPTS:
                row.failed_at, row.next_attempt_at = now, None
                log.error("herinnering %s (%s) niet bezorgd na %s pogingen", row.id, row.kind,
                          row.attempts)
                extra += failure_report(services, row, now)
            else:
                row.next_attempt_at = now + backoff(row.attempts)
                log.warning("herinnering %s: poging %s mislukt, opnieuw om %s", row.id,
                            row.attempts, row.next_attempt_at.isoformat())
        await session.flush()
        await insert_reminders(session, extra)
        for case_id in sorted(follow_up):  # the next reminder of each series
            await sync_case_reminders(session, services, cases[case_id])
    return sent


async def dispatch_due(
    services: Services, sender: Sender, worker_id: str, *, batch: int = BATCH,
    max_batches: int = 1000, should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Send every due reminder once; return how many were sent. `should_stop` is checked
    before each reminder (a stopping scheduler ends after the ones it is sending; the rest
    of its claims are released)."""
    total = 0
    for _ in range(max_batches):
        if should_stop():
            break
        ids = await _claim(services, worker_id, batch)
        if not ids:
            break
        total += await _deliver_batch(services, sender, ids, worker_id, should_stop)
    return total


# --- claims of workers that stopped ----------------------------------------------------------


async def release_claims_of_others(services: Services, worker_id: str) -> int:
    """Free the reminders claimed by other workers. Only the leader dispatches, so when a
    process becomes the leader (or is the only one, on SQLite) such claims belong to a process
    that is gone: their reminders go out now instead of after the claim timeout."""
    async with services.transaction() as session:
        released = await session.execute(
            update(Reminder)
            .where(Reminder.claimed_at.is_not(None), Reminder.sent_at.is_(None),
                   or_(Reminder.claimed_by.is_(None), Reminder.claimed_by != worker_id))
            .values(claimed_at=None, claimed_by=None)
            .execution_options(synchronize_session=False)
        )
    count = int(getattr(released, "rowcount", 0) or 0)
    if count:
        log.info("%s herinneringen vrijgegeven die een gestopt proces had geclaimd", count)
    return count


async def release_claims(services: Services, worker_id: str) -> int:
    """Give back the reminders this worker claimed but did not finish (a stop mid-batch), so
    another process sends them at once instead of after CLAIM_TIMEOUT."""
    try:
        async with services.transaction() as session:
            released = await session.execute(
                update(Reminder)
                .where(Reminder.claimed_by == worker_id, Reminder.claimed_at.is_not(None),
                       Reminder.sent_at.is_(None))
                .values(claimed_at=None, claimed_by=None)
                .execution_options(synchronize_session=False))
            return int(getattr(released, "rowcount", 0) or 0)
    except Exception as exc:  # the database is gone: the claims expire after CLAIM_TIMEOUT
        log.warning("claims van %s niet vrijgegeven (%s)", worker_id, type(exc).__name__)
        return 0
