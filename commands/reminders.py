"""Reminders: rows in the database that say who must be reminded of what, and when.

`sync_case_reminders` derives the wanted reminders from a case's state and makes the table
agree: missing rows are inserted (idempotently, by `dedupe_key`), rows that no longer fit
are cancelled with a reason, and rows cancelled only because a date changed come back when
the date changes back. It is called inside the caller's transaction after every change of a
case, after a recurring reminder was sent (to add the next one) and once a day for all open
cases.

Kinds (rules in `rules.reminders` of the organisation file):

- termijn: casemanager + the casemanager's partner channel, N days before, on the day, then
  every N days while overdue; from the Nth overdue one also the chair(s).
- terugkoppeling: casemanager, on `next_terugkoppeling`, repeated while it is not given.
- mbz: the Meldpunt's channel when Q3 = ja, at once and every N working days until done.
- jeugdbescherming: scenario 2 with minor children, at once and every N working days.
- urgent: a hearing or eviction within the urgent window before a decision: the chair(s).
- eviction_near: an eviction date coming near while the plan runs: casemanager + chair(s).
- escalation: a partner channel did not answer within N working days: the coordinator(s).
- nazorg: 3, 6, 12 months after closure with the tenant staying: the filing corporation.
- delivery_failed: a reminder could not be delivered after repeated attempts: coordinator(s).

A series is one chain of reminders about one thing (one termijn date, one decision, ...);
"Gedaan" on any reminder of a series ends it. Messages never hold personal data.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from commands import events
from commands.actions import action
from commands.context import Services
from commands.organisation import Member
from commands.permissions import is_chair_of
from commands.replies import (
    Action,
    CommandRefused,
    Destination,
    Message,
    Outgoing,
    Result,
    to_member,
    to_partner,
)
from commands.toelichting import refuse_household_words
from commands.validation import FieldProblem, check_free_text, parse_date, parse_record_id
from commands.workdays import add_working_days
from store.models import Assignment, Case, Decision, Feedback, NazorgCheck, Reminder

log = logging.getLogger(__name__)

SYNCED_KINDS = (
    "termijn", "terugkoppeling", "mbz", "jeugdbescherming", "urgent", "eviction_near", "nazorg",
)
KINDS = (*SYNCED_KINDS, "escalation", "delivery_failed")
# kinds whose "Gedaan" ends every series of that kind for the case (a registration is once)
CONFIRM_ONCE = ("mbz", "jeugdbescherming")
# kinds that escalate to the coordinator when a partner channel does not answer
ESCALATING = ("termijn", "mbz", "jeugdbescherming", "nazorg")
TEMPLATES = {
    "termijn": "herinnering/termijn",
    "terugkoppeling": "herinnering/terugkoppeling",
    "mbz": "herinnering/mbz",
    "jeugdbescherming": "herinnering/jeugdbescherming",
    "urgent": "herinnering/spoed",
    "eviction_near": "herinnering/ontruiming_nadert",
    "escalation": "herinnering/escalatie",
    "nazorg": "herinnering/nazorg",
    "delivery_failed": "herinnering/bezorging_mislukt",
}

# cancel reasons (stored in Reminder.cancel_reason; shown by `regiebot reminders list`)
CHANGED = "datum of regel gewijzigd"
CLOSED = "casus gesloten"
DONE = "afgehandeld"
ANSWERED = "beantwoord"
DECIDED = "besluit genomen"
POSTPONED = "uitgesteld"
ACKNOWLEDGED = "ontvangen door partner"

POSTPONE_MARK = ":uitgesteld:"
MAX_POSTPONE_DAYS = 92
NAZORG_REPEATS = 3  # after the first nazorg question, ask at most this many times again
MAX_OCCURRENCES = 500
LATE_AFTER = timedelta(hours=1)  # sent more than this after due_at: late, and the text says so


# --- wanted reminders ------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One wanted reminder row."""

    kind: str
    series: str
    n: int
    due_at: datetime
    partner_id: str | None = None
    member_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return _target(self.partner_id, self.member_id)

    @property
    def key(self) -> str:
        return f"{self.series}:{self.n}:{self.target}"


def _target(partner_id: str | None, member_id: str | None) -> str:
    return f"p:{partner_id}" if partner_id else f"m:{member_id}"


_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass
class _State:
    """What sync needs to know about a case besides the Case row."""

    decision: Decision | None
    appointed_at: datetime | None
    last_feedback: datetime | None
    checks: dict[int, NazorgCheck]
    rows: list[Reminder]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def send_moment(services: Services, day: date) -> datetime:
    """The send time of the rules on `day` in Amsterdam, as UTC (DST-proof)."""
    moment = datetime.combine(day, services.org.rules.reminders.send_time, tzinfo=services.timezone)
    return moment.astimezone(UTC)


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _horizon(occurrences: Iterator[tuple[int, datetime]], until: datetime) -> list[tuple[int, datetime]]:
    """All occurrences up to `until`, plus the first one after it (the next to send)."""
    taken: list[tuple[int, datetime]] = []
    for n, due in occurrences:
        taken.append((n, due))
        if due > until or len(taken) >= MAX_OCCURRENCES:
            break
    return taken


def _every_days(start: date, every: int, first_n: int = 0) -> Iterator[tuple[int, date]]:
    n = first_n
    while True:
        yield n, start + timedelta(days=every * (n - first_n))
        n += 1


def _chairs(services: Services, case: Case) -> list[str]:
    return [m.id for m in services.org.chairs(case.regieteam_id)]


def _coordinators(services: Services) -> list[str]:
    return [m.id for m in services.org.with_role("coordinator")]


def _termijn_specs(services: Services, case: Case, until: datetime) -> list[Spec]:
    rules = services.org.rules.reminders
    if case.phase != "in_uitvoering" or not case.termijn or not case.casemanager_id:
        return []
    termijn, series = case.termijn, f"termijn:{case.id}:{case.termijn.isoformat()}"

    def occurrences() -> Iterator[tuple[int, datetime]]:
        if rules.termijn_days_before > 0:
            yield 0, send_moment(services, termijn - timedelta(days=rules.termijn_days_before))
        for n, day in _every_days(termijn, rules.termijn_overdue_every_days, first_n=1):
            yield n, send_moment(services, day)

    manager = services.org.member(case.casemanager_id)
    specs: list[Spec] = []
    for n, due in _horizon(occurrences(), until):
        overdue = max(0, n - 1)
        payload = {"termijn": termijn.isoformat(), "te_laat": overdue}
        specs.append(Spec("termijn", series, n, due, member_id=case.casemanager_id, payload=payload))
        if manager is not None:
            specs.append(Spec("termijn", series, n, due, partner_id=manager.partner, payload=payload))
        if overdue >= rules.termijn_chair_from_overdue:
            specs += [Spec("termijn", series, n, due, member_id=chair, payload=payload)
                      for chair in _chairs(services, case)]
    return specs


def _terugkoppeling_specs(services: Services, case: Case, until: datetime) -> list[Spec]:
    rules = services.org.rules.reminders
    if case.phase != "in_uitvoering" or not case.next_terugkoppeling or not case.casemanager_id:
        return []
    day = case.next_terugkoppeling
    series = f"terugkoppeling:{case.id}:{day.isoformat()}"
    occurrences = ((n, send_moment(services, d))
                   for n, d in _every_days(day, rules.termijn_overdue_every_days))
    return [
        Spec("terugkoppeling", series, n, due, member_id=case.casemanager_id,
             payload={"datum": day.isoformat(), "weken": case.terugkoppeling_weeks})
        for n, due in _horizon(occurrences, until)
    ]


def _working_day_series(
    services: Services, kind: str, series: str, start: datetime, every: int, until: datetime,
    partners: Sequence[str], payload: dict[str, Any],
) -> list[Spec]:
    first_day = services.local(start).date()

    def occurrences() -> Iterator[tuple[int, datetime]]:
        yield 0, start
        n = 1
        while True:
            yield n, send_moment(services, add_working_days(
                first_day, every * n, services.org.rules.working_days))
            n += 1

    return [Spec(kind, series, n, due, partner_id=p, payload=payload)
            for n, due in _horizon(occurrences(), until) for p in partners]


def _mbz_specs(services: Services, case: Case, state: _State, until: datetime) -> list[Spec]:
    decision = state.decision
    if case.phase == "gesloten" or decision is None or decision.q3 != "ja":
        return []
    partners = [p.id for p in services.org.partners_of_kind("meldpunt")]
    return _working_day_series(
        services, "mbz", f"mbz:{case.id}:{decision.id}", _aware(decision.recorded_at),
        services.org.rules.reminders.mbz_every_working_days, until, partners,
        {"sinds": services.local(decision.recorded_at).date().isoformat()},
    )


def _jeugdbescherming_specs(
    services: Services, case: Case, state: _State, until: datetime
) -> list[Spec]:
    if case.phase != "in_uitvoering" or case.scenario != 2 or case.minor_children <= 0:
        return []
    start = state.appointed_at or services.now()
    partners = [p.id for p in services.org.partners_of_kind("jeugdbescherming")]
    return _working_day_series(
        services, "jeugdbescherming", f"jeugdbescherming:{case.id}", start,
        services.org.rules.reminders.jeugdbescherming_every_working_days, until, partners,
        {"sinds": services.local(start).date().isoformat()},
    )


def _urgent_specs(services: Services, case: Case) -> list[Spec]:
    if case.phase not in ("nieuw", "op_agenda") or case.decided_at or not case.urgency_date:
        return []
    if case.urgency_date < services.today():
        return []
    window = services.org.rules.reminders.urgent_within_days
    filed = _aware(case.filed_at)
    due = max(filed, send_moment(services, case.urgency_date - timedelta(days=window)))
    kind = "zitting" if case.urgency_date == case.zitting_date else "ontruiming"
    series = f"urgent:{case.id}:{case.urgency_date.isoformat()}"
    payload = {"datum": case.urgency_date.isoformat(), "soort": kind}
    return [Spec("urgent", series, 0, due, member_id=chair, payload=payload)
            for chair in _chairs(services, case)]


def _eviction_specs(services: Services, case: Case, state: _State) -> list[Spec]:
    day = case.ontruiming_date
    if case.phase != "in_uitvoering" or not day or day < services.today():
        return []
    window = services.org.rules.reminders.urgent_within_days
    due = send_moment(services, day - timedelta(days=window))
    if state.appointed_at and due < state.appointed_at:
        due = _aware(state.appointed_at)
    series = f"ontruiming:{case.id}:{day.isoformat()}"
    targets = [case.casemanager_id] if case.casemanager_id else []
    targets += [c for c in _chairs(services, case) if c not in targets]
    return [Spec("eviction_near", series, 0, due, member_id=m, payload={"datum": day.isoformat()})
            for m in targets]


def tenant_stays(case: Case) -> bool:
    return bool(case.outcome and case.outcome.startswith("blijft"))


def _nazorg_specs(services: Services, case: Case, state: _State, until: datetime) -> list[Spec]:
    if case.phase != "gesloten" or not case.closed_at or not tenant_stays(case):
        return []
    specs: list[Spec] = []
    for months, check in sorted(state.checks.items()):
        if check.answered_at is not None:
            continue
        series = f"nazorg:{case.id}:{months}"
        occurrences = ((n, send_moment(services, d))
                       for n, d in islice(_every_days(check.due_date, 7), NAZORG_REPEATS + 1))
        specs += [
            Spec("nazorg", series, n, due, partner_id=case.corporation_id,
                 payload={"maanden": months, "datum": check.due_date.isoformat()})
            for n, due in _horizon(occurrences, until)
        ]
    return specs


# --- sync ------------------------------------------------------------------------------------


async def _load_state(session: AsyncSession, services: Services, case: Case) -> _State:
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
    if case.phase == "gesloten" and case.closed_at and tenant_stays(case):
        checks = await _ensure_nazorg_checks(session, services, case)
    rows = list((await session.scalars(
        select(Reminder).where(Reminder.case_id == case.id).order_by(Reminder.id)
    )).all())
    return _State(decision, _aware(appointed_at) if appointed_at else None,
                  _aware(last_feedback) if last_feedback else None, checks, rows)


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


def _series_of(row: Reminder) -> str:
    return str((row.payload or {}).get("series", ""))


def is_aftercare(row: Reminder) -> bool:
    """Reminders that belong after closure: nazorg, its escalations, failure reports."""
    return row.kind in ("nazorg", "delivery_failed") or (
        row.kind == "escalation" and (row.payload or {}).get("soort") == "nazorg")


def _is_open(row: Reminder) -> bool:
    return row.sent_at is None and row.cancelled_at is None and row.failed_at is None


def _request_still_open(row: Reminder) -> bool:
    """A request that was sent and waits for "Gedaan" (MBZ registration, Jeugdbescherming)."""
    return (row.kind in CONFIRM_ONCE and row.sent_at is not None and row.done_at is None
            and row.cancelled_at is None)


def _cancel(row: Reminder, now: datetime, reason: str) -> None:
    row.cancelled_at, row.cancel_reason = now, reason


def new_reminder(
    key: str, kind: str, case_id: int | None, due_at: datetime, payload: dict[str, Any], *,
    partner_id: str | None = None, member_id: str | None = None,
) -> dict[str, Any]:
    return {"dedupe_key": key, "kind": kind, "case_id": case_id, "target_partner_id": partner_id,
            "target_member_id": member_id, "due_at": due_at, "payload": payload}


async def insert_reminders(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert rows made by `new_reminder`; a row whose dedupe_key exists already is skipped
    (another transaction may have created it at the same moment)."""
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(Reminder).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"]))


def _wanted(services: Services, case: Case, state: _State, until: datetime) -> list[Spec]:
    return [
        *_termijn_specs(services, case, until),
        *_terugkoppeling_specs(services, case, until),
        *_mbz_specs(services, case, state, until),
        *_jeugdbescherming_specs(services, case, state, until),
        *_urgent_specs(services, case),
        *_eviction_specs(services, case, state),
        *_nazorg_specs(services, case, state, until),
    ]


def _reason_for(case: Case, state: _State, row: Reminder) -> str:
    """Why a reminder that is no longer wanted is cancelled."""
    if case.phase == "gesloten":
        return ANSWERED if row.kind == "nazorg" else CLOSED
    if row.kind == "urgent" and (case.decided_at or case.phase not in ("nieuw", "op_agenda")):
        return DECIDED
    if row.kind == "terugkoppeling" and state.last_feedback is not None:
        asked_for = date.fromisoformat(str(row.payload.get("datum")))
        weeks = int(row.payload.get("weken") or 1)
        if state.last_feedback.date() > asked_for - timedelta(weeks=weeks):
            return ANSWERED
    return CHANGED


async def sync_case_reminders(session: AsyncSession, services: Services, case: Case) -> None:
    """Create, reschedule or cancel the reminder rows that follow from the case's state."""
    now = services.now()
    state = await _load_state(session, services, case)
    done_series = {_series_of(r) for r in state.rows if r.done_at is not None}
    done_kinds = {r.kind for r in state.rows if r.done_at is not None and r.kind in CONFIRM_ONCE}
    postponed: dict[tuple[str, str], datetime] = {}  # (series, target) → until
    for row in state.rows:
        if row.postponed_to is not None:
            held_key = (_series_of(row), _target(row.target_partner_id, row.target_member_id))
            moment = _aware(row.postponed_to)
            postponed[held_key] = max(postponed.get(held_key, moment), moment)
    until = max([now, *postponed.values()])
    wanted = {
        spec.key: spec for spec in _wanted(services, case, state, until)
        if spec.series not in done_series and spec.kind not in done_kinds
        and not spec.due_at <= postponed.get((spec.series, spec.target), _NEVER)
    }
    wanted_series = {spec.series for spec in wanted.values()}
    existing = {row.dedupe_key: row for row in state.rows}

    for row in state.rows:
        if not _is_open(row) or row.kind not in SYNCED_KINDS:
            continue
        series = _series_of(row)
        if POSTPONE_MARK in row.dedupe_key:  # a postponed copy lives while its series does
            if series in done_series or row.kind in done_kinds:
                _cancel(row, now, DONE)
            elif series not in wanted_series:
                _cancel(row, now, _reason_for(case, state, row))
            continue
        spec = wanted.get(row.dedupe_key)
        if spec is None:
            done = series in done_series or row.kind in done_kinds
            held = _aware(row.due_at) <= postponed.get(
                (series, _target(row.target_partner_id, row.target_member_id)), _NEVER)
            _cancel(row, now, DONE if done else POSTPONED if held else _reason_for(case, state, row))
        elif row.attempts == 0 and _aware(row.due_at) != spec.due_at:
            row.due_at = spec.due_at  # e.g. the send time in the rules changed

    if case.phase == "gesloten":
        for row in state.rows:
            open_escalation = _is_open(row) and row.kind == "escalation" and not is_aftercare(row)
            if open_escalation or _request_still_open(row):  # a sent MBZ/JB request stops too
                _cancel(row, now, CLOSED)

    await session.flush()
    await insert_reminders(session, _missing(case, wanted, existing, now))


def _missing(
    case: Case, wanted: dict[str, Spec], existing: dict[str, Reminder], now: datetime,
) -> list[dict[str, Any]]:
    # Of the wanted occurrences already in the past, only the latest of each series is ever
    # created (and sent at once, marked late). Older ones that were missed stay missed, also
    # at the next sync after that one was sent: after downtime one message per series.
    latest_past: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for spec in wanted.values():
        if spec.due_at <= now:
            latest_past[spec.series] = max(latest_past.get(spec.series, -1), spec.n)
    for key, spec in wanted.items():
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
                (Case.phase != "gesloten")
                | (Case.outcome.like("blijft%") & (Case.closed_at >= aftercare_since)))
        )).all())
    for case_id in ids:
        async with services.transaction() as session:
            case = await session.get(Case, case_id)
            if case is not None:
                await sync_case_reminders(session, services, case)
    return len(ids)


# --- what a reminder says --------------------------------------------------------------------


def destination(reminder: Reminder) -> Destination:
    if reminder.target_partner_id:
        return to_partner(reminder.target_partner_id)
    return to_member(str(reminder.target_member_id))


def _actions(reminder: Reminder, case: Case | None) -> tuple[Action, ...]:
    rid = str(reminder.id)
    ontvangen = Action("herinnering_ontvangen", rid, "herinnering.ontvangen")
    gedaan = Action("herinnering_gedaan", rid, "herinnering.gedaan", "primary")
    uitstellen = Action("herinnering_uitstellen", rid, "herinnering.uitstellen")
    kind, to_partner_channel = reminder.kind, bool(reminder.target_partner_id)
    if kind in ("escalation", "delivery_failed"):
        return ()
    if kind == "urgent":
        return (ontvangen,)
    if kind == "nazorg" and case is not None:
        months = reminder.payload.get("maanden")
        answers = tuple(
            Action("nazorg_beantwoorden", f"{case.reference}:{months}:{answer}",
                   f"herinnering.nazorg_{answer.replace(':', '_')}")
            for answer in ("ja:ja", "ja:nee", "nee:nee")
        )
        return (*answers, uitstellen)
    first: tuple[Action, ...] = (ontvangen,) if to_partner_channel else ()
    if kind == "terugkoppeling" and case is not None:
        first += (Action("terugkoppeling_geven", case.reference, "herinnering.terugkoppeling_geven",
                         "primary"),)
        return (*first, uitstellen)
    return (*first, gedaan, uitstellen)


def _day(payload: dict[str, Any], key: str, fallback: date | None = None) -> date | None:
    try:
        return date.fromisoformat(str(payload[key]))
    except (KeyError, ValueError):
        return fallback


def reminder_message(services: Services, reminder: Reminder, case: Case | None) -> Message:
    """The neutral message for a reminder: reference, what is expected and by when.
    Rows written by hand (without the usual payload) still render, with what the case says."""
    org, payload, today = services.org, reminder.payload or {}, services.today()
    kind = reminder.kind
    due = _aware(reminder.due_at)
    data: dict[str, Any] = {
        "keer": int(payload.get("n", 0)) + 1, "kanaal": bool(reminder.target_partner_id),
        "referentie": None, "corporatie": None, "team": None, "partner": None,
        "laat": services.now() - due > LATE_AFTER, "bedoeld": due,
    }
    if case is not None:
        data.update(referentie=case.reference, corporatie=org.partner(case.corporation_id).name,
                    team=org.regieteam(case.regieteam_id).name)
    if reminder.target_partner_id:
        data["partner"] = org.partner(reminder.target_partner_id).name
    case_day = {
        "terugkoppeling": case.next_terugkoppeling if case else None,
        "urgent": case.urgency_date if case else None,
        "eviction_near": case.ontruiming_date if case else None,
    }.get(kind)
    day = _day(payload, "datum", case_day)
    data.update(datum=day, dagen=(day - today).days if day else 0)
    if kind == "termijn":
        termijn = _day(payload, "termijn", case.termijn if case else None) or today
        data.update(termijn=termijn, dagen=(termijn - today).days,
                    te_laat=int(payload.get("te_laat", 0)),
                    voorzitter=reminder.target_member_id in _chairs(services, case) if case else False)
    elif kind == "terugkoppeling":
        data["weken"] = payload.get("weken")
    elif kind in ("mbz", "jeugdbescherming"):
        every = (org.rules.reminders.mbz_every_working_days if kind == "mbz"
                 else org.rules.reminders.jeugdbescherming_every_working_days)
        data.update(sinds=_day(payload, "sinds", today),
                    uiterlijk=add_working_days(today, every, services.org.rules.working_days),
                    kinderen=case.minor_children if case else 0)
    elif kind == "urgent":
        default = "zitting" if case and case.urgency_date == case.zitting_date else "ontruiming"
        data["soort"] = payload.get("soort") or default
    elif kind == "nazorg":
        data.update(maanden=payload.get("maanden"), uiterlijk=today + timedelta(days=14))
    elif kind in ("escalation", "delivery_failed"):
        data.update(soort=payload.get("soort"), werkdagen=payload.get("werkdagen"),
                    pogingen=payload.get("pogingen"), bestemming=payload.get("bestemming"),
                    verstuurd=_day(payload, "verstuurd"))
    return Message(TEMPLATES[kind], data, _actions(reminder, case))


def reminder_outgoing(services: Services, reminder: Reminder, case: Case | None) -> Outgoing:
    """A retry after a partial failure updates the message in place instead of posting twice
    (for couriers that keep `update_key` references)."""
    return Outgoing(destination(reminder), reminder_message(services, reminder, case),
                    update_key=f"reminder:{reminder.id}", retry=reminder.attempts > 0)


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
        "of": reminder.id, "series": _series_of(reminder), "soort": reminder.kind,
        "werkdagen": within, "verstuurd": local.date().isoformat(),
        "bestemming": services.org.partner(reminder.target_partner_id).name,
    }
    return [
        new_reminder(f"escalation:{reminder.id}:m:{coordinator}", "escalation",
                     reminder.case_id, due, payload, member_id=coordinator)
        for coordinator in _coordinators(services)
    ]


def failure_report(services: Services, reminder: Reminder, now: datetime) -> list[dict[str, Any]]:
    """Rows that tell the coordinator(s) a reminder could not be delivered."""
    if reminder.kind == "delivery_failed":
        return []  # a report that cannot be delivered is logged, not reported again
    if reminder.target_partner_id:
        where = services.org.partner(reminder.target_partner_id).name
    else:
        found = services.org.member(str(reminder.target_member_id))
        where = found.name if found else str(reminder.target_member_id)
    payload = {"of": reminder.id, "soort": reminder.kind, "pogingen": reminder.attempts,
               "bestemming": where}
    return [
        new_reminder(f"delivery_failed:{reminder.id}:m:{coordinator}", "delivery_failed",
                     reminder.case_id, now, payload, member_id=coordinator)
        for coordinator in _coordinators(services)
    ]


# --- answering: buttons and forms ------------------------------------------------------------


def _may_answer(services: Services, member: Member, reminder: Reminder, case: Case | None) -> bool:
    if member.has_role("coordinator", "admin"):
        return True
    if reminder.target_member_id == member.id or reminder.target_partner_id == member.partner:
        return True
    return case is not None and is_chair_of(services.org, member, case.regieteam_id)


MAX_NAZORG_MONTHS = 120


async def _reminder_for(
    session: AsyncSession, services: Services, member: Member, value: str | int
) -> tuple[Reminder, Case | None]:
    try:
        reminder_id = parse_record_id(value)
    except (TypeError, ValueError):
        raise CommandRefused("herinnering/niet_gevonden") from None
    case_id = await session.scalar(select(Reminder.case_id).where(Reminder.id == reminder_id))
    # lock order as in the commands and the dispatcher: the case first, then its reminders
    case = await session.get(Case, case_id, with_for_update=True) if case_id else None
    reminder = await session.get(Reminder, reminder_id, with_for_update=True)
    if reminder is None:
        raise CommandRefused("herinnering/niet_gevonden")
    if not _may_answer(services, member, reminder, case):
        raise CommandRefused("herinnering/niet_voor_jou")
    return reminder, case


def _cancel_escalations(rows: Sequence[Reminder], of: set[int], series: str | None,
                        now: datetime, reason: str) -> None:
    for row in rows:
        if row.kind != "escalation" or not _is_open(row):
            continue
        if row.payload.get("of") in of or (series and row.payload.get("series") == series):
            _cancel(row, now, reason)


async def _case_rows(session: AsyncSession, reminder: Reminder) -> list[Reminder]:
    if reminder.case_id is None:
        return [reminder]
    return list((await session.scalars(
        select(Reminder).where(Reminder.case_id == reminder.case_id)
    )).all())


@action("herinnering_ontvangen")
async def acknowledge(services: Services, member: Member, value: str) -> Result:
    """"Ontvangen": someone at the partner has seen it; the escalation is called off."""
    now = services.now()
    async with services.transaction() as session:
        reminder, case = await _reminder_for(session, services, member, value)
        reference = case.reference if case else None
        if reminder.acknowledged_at is not None:
            return Result(value=reminder.id).reply(
                "herinnering/al_ontvangen", referentie=reference,
                door=_name(services, reminder.acknowledged_by))
        reminder.acknowledged_at, reminder.acknowledged_by = now, member.id
        _cancel_escalations(await _case_rows(session, reminder), {reminder.id}, None, now,
                            ACKNOWLEDGED)
        events.record(session, case, "reminder_acknowledged", member.id, now,
                      reminder=reminder.id, soort=reminder.kind)
    return Result(value=reminder.id).reply("herinnering/ontvangen", referentie=reference)


@action("herinnering_gedaan")
async def mark_done(services: Services, member: Member, value: str) -> Result:
    """"Gedaan": the expected step is taken; the rest of this series is cancelled."""
    now = services.now()
    async with services.transaction() as session:
        reminder, case = await _reminder_for(session, services, member, value)
        reference = case.reference if case else None
        if reminder.done_at is not None:
            return Result(value=reminder.id).reply(
                "herinnering/al_gedaan", referentie=reference, door=_name(services, reminder.done_by))
        reminder.done_at, reminder.done_by = now, member.id
        if reminder.acknowledged_at is None:
            reminder.acknowledged_at, reminder.acknowledged_by = now, member.id
        series = _series_of(reminder)
        rows = await _case_rows(session, reminder)
        for row in rows:
            same = _series_of(row) == series or (
                reminder.kind in CONFIRM_ONCE and row.kind == reminder.kind)
            if not same or row.id == reminder.id or row.kind == "escalation":
                continue
            if _is_open(row):
                _cancel(row, now, DONE)
            elif row.sent_at is not None and row.done_at is None:  # earlier ones: done as well
                row.done_at, row.done_by = now, member.id
        _cancel_escalations(rows, {reminder.id}, series, now, DONE)
        events.record(session, case, "reminder_done", member.id, now,
                      reminder=reminder.id, soort=reminder.kind)
    return Result(value=reminder.id).reply("herinnering/gedaan", referentie=reference,
                                           soort=reminder.kind)


@action("herinnering_uitstellen")
async def ask_postpone(services: Services, member: Member, value: str) -> Result:
    """The button: adapters open a form (date + reason) and then call `postpone_reminder`."""
    async with services.transaction() as session:
        reminder, case = await _reminder_for(session, services, member, value)
    return Result(value=reminder.id).reply(
        "herinnering/uitstellen_vraag", id=reminder.id, referentie=case.reference if case else None,
        maximum=services.today() + timedelta(days=MAX_POSTPONE_DAYS))


async def postpone_reminder(
    services: Services, member: Member, reminder_id: int | str, until: str, reason: str
) -> Result:
    """Postpone a reminder (and the rest of its series) to a date, with a reason."""
    today, now = services.today(), services.now()
    try:
        day = parse_date(until)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld="uitstel_datum",
                             **problem.data) from None
    if day <= today or day > today + timedelta(days=MAX_POSTPONE_DAYS):
        raise CommandRefused("herinnering/uitstel_datum", maximum=today + timedelta(
            days=MAX_POSTPONE_DAYS))
    try:
        why = check_free_text(reason, today, max_length=300, min_length=3)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld="uitstel_reden",
                             **problem.data) from None
    async with services.transaction() as session:
        reminder, case = await _reminder_for(session, services, member, reminder_id)
        if reminder.done_at is not None or reminder.cancelled_at is not None:
            raise CommandRefused("herinnering/al_afgehandeld",
                                 referentie=case.reference if case else None)
        moment = send_moment(services, day)
        if case is not None:
            await refuse_household_words(session, services, case, {"uitstel_reden": why})
        reminder.postponed_to = moment
        reminder.postpone_reason = services.cipher.encrypt(why)
        series = _series_of(reminder)
        rows = await _case_rows(session, reminder)
        target = (reminder.target_partner_id, reminder.target_member_id)
        held = {row.id for row in rows if row.id == reminder.id or (
            _series_of(row) == series and row.kind != "escalation"
            and (row.target_partner_id, row.target_member_id) == target)}
        for row in rows:
            if row.id in held and _is_open(row) and _aware(row.due_at) <= moment:
                _cancel(row, now, POSTPONED)
        _cancel_escalations(rows, held, None, now, POSTPONED)
        base = reminder.dedupe_key.split(POSTPONE_MARK)[0]
        copy_key = f"{base}{POSTPONE_MARK}{day.isoformat()}"
        await session.flush()
        await insert_reminders(session, [new_reminder(
            copy_key, reminder.kind, reminder.case_id, moment,
            {**reminder.payload, "uitgesteld": True},
            partner_id=reminder.target_partner_id, member_id=reminder.target_member_id)])
        events.record(session, case, "reminder_postponed", member.id, now,
                      reminder=reminder.id, soort=reminder.kind, until=day.isoformat())
        if case is not None:
            await session.flush()
            await sync_case_reminders(session, services, case)
    return Result(value=reminder.id).reply(
        "herinnering/uitgesteld", referentie=case.reference if case else None, datum=day)


@action("terugkoppeling_geven")
async def feedback_button(services: Services, member: Member, value: str) -> Result:
    """Adapters open the feedback form for this button; this answer is the fallback."""
    return Result(value=value).reply("herinnering/terugkoppeling_geven", referentie=value)


@action("nazorg_beantwoorden")
async def nazorg_button(services: Services, member: Member, value: str) -> Result:
    """Value: "<reference>:<months>:<still housed ja|nee>:<paying ja|nee>"."""
    try:
        reference, months, housed, paying = value.rsplit(":", 3)
        return await answer_nazorg(services, member, reference, parse_record_id(months),
                                   housed == "ja", paying == "ja")
    except ValueError:
        raise CommandRefused("herinnering/niet_gevonden") from None


async def answer_nazorg(
    services: Services, member: Member, reference: str, months: int, still_housed: bool,
    paying: bool,
) -> Result:
    """Record the corporation's answer to a nazorg question; its reminders stop."""
    if not 0 < months <= MAX_NAZORG_MONTHS or len(reference) > 40:
        raise CommandRefused("herinnering/niet_gevonden")
    now = services.now()
    async with services.transaction() as session:
        case = await session.scalar(
            select(Case).where(Case.reference == reference).with_for_update())
        if case is None:
            raise CommandRefused("herinnering/niet_gevonden")
        allowed = member.has_role("coordinator", "admin") or (
            member.partner == case.corporation_id and member.has_role("melder"))
        if not allowed:
            raise CommandRefused("herinnering/niet_voor_jou")
        check = await session.scalar(
            select(NazorgCheck).where(NazorgCheck.case_id == case.id, NazorgCheck.months == months)
            .with_for_update()
        )
        if check is None:
            raise CommandRefused("herinnering/niet_gevonden")
        if check.answered_at is not None:
            return Result(value=case.reference).reply(
                "herinnering/nazorg_al_beantwoord", referentie=case.reference, maanden=months,
                door=_name(services, check.answered_by))
        check.answered_at, check.answered_by = now, member.id
        check.still_housed, check.paying = still_housed, paying and still_housed
        await session.execute(
            update(Reminder).where(
                Reminder.case_id == case.id, Reminder.kind == "nazorg",
                Reminder.sent_at.isnot(None), Reminder.done_at.is_(None),
                Reminder.dedupe_key.like(f"nazorg:{case.id}:{months}:%"),
            ).values(done_at=now, done_by=member.id)
        )
        events.record(session, case, "nazorg_answered", member.id, now, months=months,
                      still_housed=still_housed, paying=check.paying)
        await session.flush()
        await sync_case_reminders(session, services, case)
        rows = await _case_rows(session, Reminder(case_id=case.id))
        _cancel_escalations(rows, set(), f"nazorg:{case.id}:{months}", now, ANSWERED)
    return Result(value=case.reference).reply(
        "herinnering/nazorg_beantwoord", referentie=case.reference, maanden=months,
        woont=still_housed, betaalt=check.paying)


def _name(services: Services, member_id: str | None) -> str:
    found = services.org.member(member_id) if member_id else None
    return found.name if found else "iemand"
