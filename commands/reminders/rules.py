"""Which reminders a case should have: the kinds, their series and when each one is due.

The rules come from `rules.reminders` of the organisation file. Each `*_specs` function turns
a case's state into the wanted rows (`Spec`); `wanted` collects them for `sync`. Nothing here
reads or writes the database.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

from commands.context import Services, aware
from commands.words import UNDECIDED_PHASES, Phase, ReminderKind
from commands.workdays import add_working_days
from store.models import Case, Decision, NazorgCheck, Reminder

Kind = ReminderKind

# kinds that follow from a case's state (the others are made when a reminder is sent or fails)
SYNCED_KINDS: tuple[ReminderKind, ...] = (
    Kind.TERMIJN, Kind.TERUGKOPPELING, Kind.MBZ, Kind.JEUGDBESCHERMING, Kind.SPOED,
    Kind.ONTRUIMING_NABIJ, Kind.NAZORG,
)
KINDS: tuple[ReminderKind, ...] = (*SYNCED_KINDS, Kind.ESCALATIE, Kind.BEZORGING_MISLUKT)
# kinds whose "Gedaan" ends every series of that kind for the case (a registration is once)
CONFIRM_ONCE: tuple[ReminderKind, ...] = (Kind.MBZ, Kind.JEUGDBESCHERMING)
# kinds that escalate to the coordinator when a partner channel does not answer
ESCALATING: tuple[ReminderKind, ...] = (Kind.TERMIJN, Kind.MBZ, Kind.JEUGDBESCHERMING, Kind.NAZORG)
# kinds sent as a chain: after downtime only the newest due one of a chain goes out
SERIES_KINDS: tuple[ReminderKind, ...] = (
    Kind.TERMIJN, Kind.TERUGKOPPELING, Kind.MBZ, Kind.JEUGDBESCHERMING, Kind.NAZORG,
)

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
NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Spec:
    """One wanted reminder row."""

    kind: ReminderKind
    series: str
    n: int
    due_at: datetime
    partner_id: str | None = None
    member_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return target_of(self.partner_id, self.member_id)

    @property
    def key(self) -> str:
        return f"{self.series}:{self.n}:{self.target}"


def target_of(partner_id: str | None, member_id: str | None) -> str:
    return f"p:{partner_id}" if partner_id else f"m:{member_id}"


@dataclass
class CaseState:
    """What sync needs to know about a case besides the Case row."""

    decision: Decision | None
    appointed_at: datetime | None
    last_feedback: datetime | None
    checks: dict[int, NazorgCheck]
    rows: list[Reminder]


def send_moment(services: Services, day: date) -> datetime:
    """The send time of the rules on `day` in Amsterdam, as UTC (DST-proof)."""
    moment = datetime.combine(day, services.org.rules.reminders.send_time, tzinfo=services.timezone)
    return moment.astimezone(UTC)


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


STAYS_PREFIX = "blijft"  # every outcome with the tenant staying (Outcome.BLIJFT_*)


def tenant_stays(case: Case) -> bool:
    return bool(case.outcome and case.outcome.startswith(STAYS_PREFIX))


def chairs(services: Services, case: Case) -> list[str]:
    return [m.id for m in services.org.chairs(case.regieteam_id)]


def coordinators(services: Services) -> list[str]:
    return [m.id for m in services.org.with_role("coordinator")]


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


def _termijn_specs(services: Services, case: Case, until: datetime) -> list[Spec]:
    rules = services.org.rules.reminders
    if case.phase != Phase.IN_UITVOERING or not case.termijn or not case.casemanager_id:
        return []
    termijn, series = case.termijn, f"{Kind.TERMIJN}:{case.id}:{case.termijn.isoformat()}"

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
        specs.append(Spec(Kind.TERMIJN, series, n, due, member_id=case.casemanager_id,
                          payload=payload))
        if manager is not None:
            specs.append(Spec(Kind.TERMIJN, series, n, due, partner_id=manager.partner,
                              payload=payload))
        if overdue >= rules.termijn_chair_from_overdue:
            specs += [Spec(Kind.TERMIJN, series, n, due, member_id=chair, payload=payload)
                      for chair in chairs(services, case)]
    return specs


def _terugkoppeling_specs(services: Services, case: Case, until: datetime) -> list[Spec]:
    rules = services.org.rules.reminders
    if (case.phase != Phase.IN_UITVOERING or not case.next_terugkoppeling
            or not case.casemanager_id):
        return []
    day = case.next_terugkoppeling
    series = f"{Kind.TERUGKOPPELING}:{case.id}:{day.isoformat()}"
    occurrences = ((n, send_moment(services, d))
                   for n, d in _every_days(day, rules.termijn_overdue_every_days))
    return [
        Spec(Kind.TERUGKOPPELING, series, n, due, member_id=case.casemanager_id,
             payload={"datum": day.isoformat(), "weken": case.terugkoppeling_weeks})
        for n, due in _horizon(occurrences, until)
    ]


def _working_day_series(
    services: Services, kind: ReminderKind, series: str, start: datetime, every: int,
    until: datetime, partners: Sequence[str], payload: dict[str, Any],
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


def _mbz_specs(services: Services, case: Case, state: CaseState, until: datetime) -> list[Spec]:
    decision = state.decision
    if case.phase == Phase.GESLOTEN or decision is None or decision.q3 != "ja":
        return []
    partners = [p.id for p in services.org.partners_of_kind("meldpunt")]
    return _working_day_series(
        services, Kind.MBZ, f"{Kind.MBZ}:{case.id}:{decision.id}", aware(decision.recorded_at),
        services.org.rules.reminders.mbz_every_working_days, until, partners,
        {"sinds": services.local(decision.recorded_at).date().isoformat()},
    )


def _jeugdbescherming_specs(
    services: Services, case: Case, state: CaseState, until: datetime
) -> list[Spec]:
    if case.phase != Phase.IN_UITVOERING or case.scenario != 2 or case.minor_children <= 0:
        return []
    start = state.appointed_at or services.now()
    partners = [p.id for p in services.org.partners_of_kind("jeugdbescherming")]
    return _working_day_series(
        services, Kind.JEUGDBESCHERMING, f"{Kind.JEUGDBESCHERMING}:{case.id}", start,
        services.org.rules.reminders.jeugdbescherming_every_working_days, until, partners,
        {"sinds": services.local(start).date().isoformat()},
    )


def _spoed_specs(services: Services, case: Case) -> list[Spec]:
    """A hearing or eviction within the urgent window before a decision: the chair(s)."""
    if case.phase not in UNDECIDED_PHASES or case.decided_at or not case.urgency_date:
        return []
    if case.urgency_date < services.today():
        return []
    window = services.org.rules.reminders.urgent_within_days
    filed = aware(case.filed_at)
    due = max(filed, send_moment(services, case.urgency_date - timedelta(days=window)))
    about = "zitting" if case.urgency_date == case.zitting_date else "ontruiming"
    series = f"{Kind.SPOED}:{case.id}:{case.urgency_date.isoformat()}"
    payload = {"datum": case.urgency_date.isoformat(), "soort": about}
    return [Spec(Kind.SPOED, series, 0, due, member_id=chair, payload=payload)
            for chair in chairs(services, case)]


def _ontruiming_specs(services: Services, case: Case, state: CaseState) -> list[Spec]:
    """An eviction date coming near while the plan runs: casemanager + chair(s)."""
    day = case.ontruiming_date
    if case.phase != Phase.IN_UITVOERING or not day or day < services.today():
        return []
    window = services.org.rules.reminders.urgent_within_days
    due = send_moment(services, day - timedelta(days=window))
    if state.appointed_at and due < state.appointed_at:
        due = aware(state.appointed_at)
    series = f"ontruiming:{case.id}:{day.isoformat()}"
    targets = [case.casemanager_id] if case.casemanager_id else []
    targets += [c for c in chairs(services, case) if c not in targets]
    return [Spec(Kind.ONTRUIMING_NABIJ, series, 0, due, member_id=m,
                 payload={"datum": day.isoformat()})
            for m in targets]


def _nazorg_specs(services: Services, case: Case, state: CaseState, until: datetime) -> list[Spec]:
    if case.phase != Phase.GESLOTEN or not case.closed_at or not tenant_stays(case):
        return []
    specs: list[Spec] = []
    for months, check in sorted(state.checks.items()):
        if check.answered_at is not None:
            continue
        series = f"{Kind.NAZORG}:{case.id}:{months}"
        occurrences = ((n, send_moment(services, d))
                       for n, d in islice(_every_days(check.due_date, 7), NAZORG_REPEATS + 1))
        specs += [
            Spec(Kind.NAZORG, series, n, due, partner_id=case.corporation_id,
                 payload={"maanden": months, "datum": check.due_date.isoformat()})
            for n, due in _horizon(occurrences, until)
        ]
    return specs


def wanted(services: Services, case: Case, state: CaseState, until: datetime) -> list[Spec]:
    """Every reminder row the case should have, up to `until` plus the next one of each series."""
    return [
        *_termijn_specs(services, case, until),
        *_terugkoppeling_specs(services, case, until),
        *_mbz_specs(services, case, state, until),
        *_jeugdbescherming_specs(services, case, state, until),
        *_spoed_specs(services, case),
        *_ontruiming_specs(services, case, state),
        *_nazorg_specs(services, case, state, until),
    ]


def reason_for(case: Case, state: CaseState, row: Reminder) -> str:
    """Why a reminder that is no longer wanted is cancelled."""
    if case.phase == Phase.GESLOTEN:
        return ANSWERED if row.kind == Kind.NAZORG else CLOSED
    if row.kind == Kind.SPOED and (case.decided_at or case.phase not in UNDECIDED_PHASES):
        return DECIDED
    if row.kind == Kind.TERUGKOPPELING and state.last_feedback is not None:
        asked_for = date.fromisoformat(str(row.payload.get("datum")))
        weeks = int(row.payload.get("weken") or 1)
        if state.last_feedback.date() > asked_for - timedelta(weeks=weeks):
            return ANSWERED
    return CHANGED
