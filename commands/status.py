"""`/status`: an overview of the open cases, and `/status RT-2026-0042`: one case's timeline.

Every count is a SQL aggregate (GROUP BY, or a window count next to a short list); no
command loads all cases. Nothing here names a household: cases are referred to by their
reference, Regieteam and corporation. Personal data appears only in the timeline, as a
separate private message, for those entitled to it.

Who sees what (the same share as `/status RT-…`):
- coordinator and admin: every case;
- a chair (voorzitter): the cases of their own Regieteam(s);
- a melder: the cases of their own corporation;
- a casemanager: the cases they lead.
A member with several of these roles sees the union. Others are refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from commands import audit
from commands.actions import action
from commands.context import Services
from commands.notities import WRITTEN as NOTE_WRITTEN
from commands.organisation import Member, Organisation
from commands.permissions import (
    entitled_to_personal_data,
    require_case_access,
    sees_all,
    whom_to_ask,
)
from commands.privacy import household_fields
from commands.replies import Action, CommandRefused, Message, Result
from commands.toelichting import timeline_texts
from commands.words import OPEN_PHASES, UNDECIDED_PHASES, ActionName, Phase
from store.models import (
    AgendaItem,
    Assignment,
    Case,
    CasePersonalData,
    Decision,
    Event,
    Feedback,
    Meeting,
    NazorgCheck,
    PlanCondition,
    Reminder,
    Vote,
    open_case,
)

STATUS_ROLES = ("coordinator", "admin", "voorzitter", "melder", "casemanager")
AWAITING_DECISION = UNDECIDED_PHASES
WITH_PLAN = (Phase.BESLOTEN, Phase.IN_UITVOERING)
CONFIRMATION_KINDS = ("mbz", "jeugdbescherming")
LOOK_AHEAD_DAYS = 14
SHORT_LIST = 3
REFERENCE = re.compile(r"RT-\d{4}-\d{1,6}")
FULL_LIST = 100


# --- who sees which cases --------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The share of the cases a member may see in summaries."""

    everything: bool = False
    regieteams: tuple[str, ...] = ()
    corporation: str | None = None
    casemanager: str | None = None

    def condition(self) -> ColumnElement[bool]:
        if self.everything:
            return true()
        parts: list[ColumnElement[bool]] = []
        if self.regieteams:
            parts.append(Case.regieteam_id.in_(self.regieteams))
        if self.corporation:
            parts.append(Case.corporation_id == self.corporation)
        if self.casemanager:
            parts.append(Case.casemanager_id == self.casemanager)
        return or_(*parts) if parts else false()


def status_scope(org: Organisation, member: Member) -> Scope:
    """The member's share of the cases; refuses members without a status role."""
    if not member.has_role(*STATUS_ROLES):
        raise CommandRefused("fout/geen_rol", rollen=list(STATUS_ROLES), vraag=whom_to_ask(org))
    if sees_all(member):
        return Scope(everything=True)  # the coordinator oversees all cases
    chaired = tuple(t.id for t in org.regieteams
                    if member.has_role("voorzitter") and org.belongs_to(member, t.id))
    return Scope(  # need-to-know: a chair sees the cases of the Regieteam(s) they chair
        regieteams=chaired,
        corporation=member.partner if member.has_role("melder") else None,
        casemanager=member.id if member.has_role("casemanager") else None,
    )


# --- case lists with their total -------------------------------------------------------------


@dataclass(frozen=True)
class CaseList:
    """The first cases of a list (most urgent first) and how many there are in all."""

    total: int
    cases: list[dict[str, Any]]

    @property
    def more(self) -> int:
        return self.total - len(self.cases)

    def as_data(self) -> dict[str, Any]:
        return {"totaal": self.total, "casussen": self.cases, "meer": self.more}


def _case_columns() -> tuple[Any, ...]:
    return (Case.reference, Case.regieteam_id, Case.corporation_id, Case.zitting_date,
            Case.ontruiming_date, Case.termijn, Case.next_terugkoppeling, Case.scenario)


def case_list_query(
    where: ColumnElement[bool], order: Sequence[Any], limit: int
) -> Select[*tuple[Any, ...]]:
    """The first `limit` open cases matching `where`, with the total as a window count. Every
    list is of open cases: read through the partial indexes on the open phases."""
    return (select(*_case_columns(), func.count().over().label("total"))
            .where(open_case(), where).order_by(*order, Case.id).limit(limit))


async def case_list(
    services: Services, session: AsyncSession, where: ColumnElement[bool],
    order: Sequence[Any], limit: int,
) -> CaseList:
    """The first `limit` cases matching `where` and the total (a window count, one query)."""
    rows = (await session.execute(case_list_query(where, order, limit))).all()
    total = int(rows[0].total) if rows else 0
    return CaseList(total, [_case_line(services, row, services.today()) for row in rows])


def _case_line(services: Services, row: Any, today: date) -> dict[str, Any]:
    org = services.org
    return {
        "referentie": row.reference,
        "team": team_name(org, row.regieteam_id),
        "corporatie": partner_name(org, row.corporation_id),
        "zitting": row.zitting_date,
        "ontruiming": row.ontruiming_date,
        "termijn": row.termijn,
        "terugkoppeling": row.next_terugkoppeling,
        "scenario": row.scenario,
        "te_laat": bool(row.next_terugkoppeling and row.next_terugkoppeling < today),
    }


def urgency_order() -> tuple[Any, ...]:
    """Nearest court or eviction date first; cases without one last, oldest melding first."""
    return (Case.urgency_date.is_(None), Case.urgency_date, Case.filed_at)


def awaiting_decision(scope: ColumnElement[bool]) -> ColumnElement[bool]:
    return and_(scope, Case.phase.in_(AWAITING_DECISION))


def overdue_termijn(scope: ColumnElement[bool], today: date) -> ColumnElement[bool]:
    return and_(scope, Case.phase.in_(WITH_PLAN), Case.termijn < today)


def termijn_soon(scope: ColumnElement[bool], today: date) -> ColumnElement[bool]:
    return and_(scope, Case.phase.in_(WITH_PLAN),
                Case.termijn.between(today, today + timedelta(days=LOOK_AHEAD_DAYS)))


def terugkoppeling_due(scope: ColumnElement[bool], today: date) -> ColumnElement[bool]:
    """Terugkoppeling due within the look-ahead, including the ones already late."""
    return and_(scope, Case.phase.in_(WITH_PLAN),
                Case.next_terugkoppeling <= today + timedelta(days=LOOK_AHEAD_DAYS))


def overdue_terugkoppeling(scope: ColumnElement[bool], today: date) -> ColumnElement[bool]:
    return and_(scope, Case.phase.in_(WITH_PLAN), Case.next_terugkoppeling < today)


# --- counts ----------------------------------------------------------------------------------


def open_case_counts_query(scope: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    """Open cases counted per Regieteam, corporation, phase and scenario (one GROUP BY)."""
    return (select(Case.regieteam_id, Case.corporation_id, Case.phase, Case.scenario,
                   func.count())
            .where(scope, open_case(), Case.phase.in_(OPEN_PHASES))
            .group_by(Case.regieteam_id, Case.corporation_id, Case.phase, Case.scenario))


async def open_case_counts(session: AsyncSession, scope: ColumnElement[bool]) -> dict[str, Any]:
    """Open cases per phase (`in_uitvoering` also per scenario: 1, 2, or none recorded), per
    Regieteam and per corporation. One GROUP BY in the database; the handful of resulting
    counts are added up per heading here."""
    query = open_case_counts_query(scope)
    phases: dict[str, Any] = {phase: 0 for phase in OPEN_PHASES}
    per_scenario = {"1": 0, "2": 0, "onbekend": 0}
    per_team: dict[str, int] = {}
    per_corporation: dict[str, int] = {}
    for team, corporation, phase, scenario, number in (await session.execute(query)).all():
        phases[phase] += number
        per_team[team] = per_team.get(team, 0) + number
        per_corporation[corporation] = per_corporation.get(corporation, 0) + number
        if phase == Phase.IN_UITVOERING:
            per_scenario[str(scenario) if scenario in (1, 2) else "onbekend"] += number
    phases["per_scenario"] = per_scenario
    phases["totaal"] = sum(phases[phase] for phase in OPEN_PHASES)
    return {"fasen": phases, "per_team": dict(sorted(per_team.items())),
            "per_corporatie": dict(sorted(per_corporation.items()))}


def _pending_confirmation(scope: ColumnElement[bool], now: datetime) -> ColumnElement[bool]:
    """A request (MBZ registration, Jeugdbescherming) that is due and not confirmed. "Gedaan"
    marks the sent rows of the series done and cancels the rest, so one open row suffices."""
    return and_(scope, open_case(), Reminder.kind.in_(CONFIRMATION_KINDS),
                Reminder.due_at <= now, Reminder.done_at.is_(None), Reminder.cancelled_at.is_(None))


def confirmation_counts_query(scope: ColumnElement[bool], now: datetime) -> Select[*tuple[Any, ...]]:
    """Per kind, how many open cases have an unconfirmed request."""
    return (select(Reminder.kind, func.count(func.distinct(Reminder.case_id)))
            .join(Case, Case.id == Reminder.case_id).where(_pending_confirmation(scope, now))
            .group_by(Reminder.kind))


def confirmation_list_query(
    scope: ColumnElement[bool], now: datetime, limit: int
) -> Select[*tuple[Any, ...]]:
    """The first cases with an unconfirmed request, longest waiting first."""
    since = func.min(Reminder.due_at)
    return (select(Case.reference, Case.regieteam_id, Reminder.kind, since)
            .join(Case, Case.id == Reminder.case_id).where(_pending_confirmation(scope, now))
            .group_by(Case.reference, Case.regieteam_id, Reminder.kind)
            .order_by(since, Case.reference).limit(limit))


async def pending_confirmations(
    services: Services, session: AsyncSession, scope: ColumnElement[bool], limit: int
) -> dict[str, Any]:
    """Cases whose MBZ or Jeugdbescherming request is not yet confirmed (one per case and kind)."""
    counts = {kind: 0 for kind in CONFIRMATION_KINDS}
    for kind, number in (await session.execute(
            confirmation_counts_query(scope, services.now()))).all():
        counts[kind] = int(number)
    rows = (await session.execute(confirmation_list_query(scope, services.now(), limit))).all()
    lines = [{"referentie": ref, "team": team_name(services.org, team), "soort": kind,
              "sinds": due} for ref, team, kind, due in rows]
    return {"per_soort": counts, "totaal": sum(counts.values()), "casussen": lines,
            "meer": sum(counts.values()) - len(lines)}


# --- /status ---------------------------------------------------------------------------------


async def status_overview(services: Services, member: Member, full: bool = False) -> Result:
    """The open cases in the member's share: short by default, every list with `full`."""
    org = services.org
    scope = status_scope(org, member)
    where = scope.condition()
    today = services.today()
    limit = FULL_LIST if full else SHORT_LIST
    async with services.transaction() as session:
        data: dict[str, Any] = {
            "volledig": full,
            "alles": scope.everything,
            "vandaag": today,
            "dagen": LOOK_AHEAD_DAYS,
            **await _open_counts_named(services, session, where),
            "wacht_op_besluit": (await case_list(
                services, session, awaiting_decision(where), urgency_order(), limit)).as_data(),
            "termijn_verlopen": (await case_list(
                services, session, overdue_termijn(where, today), (Case.termijn,), limit)).as_data(),
            "termijn_binnenkort": (await case_list(
                services, session, termijn_soon(where, today), (Case.termijn,), limit)).as_data(),
            "terugkoppeling": (await case_list(
                services, session, terugkoppeling_due(where, today),
                (Case.next_terugkoppeling,), limit)).as_data(),
            "bevestigingen": await pending_confirmations(services, session, where, limit),
        }
    actions = () if full else (Action(ActionName.STATUS_VOLLEDIG, "", "actie.status_volledig"),)
    return Result(replies=[Message("status/overzicht", data, actions)], value=data)


async def _open_counts_named(
    services: Services, session: AsyncSession, where: ColumnElement[bool]
) -> dict[str, Any]:
    counts = await open_case_counts(session, where)
    return {
        "fasen": counts["fasen"],
        "per_team": [{"naam": team_name(services.org, key), "aantal": n}
                     for key, n in counts["per_team"].items()],
        "per_corporatie": [{"naam": partner_name(services.org, key), "aantal": n}
                           for key, n in counts["per_corporatie"].items()],
    }


def team_name(org: Organisation, regieteam_id: str) -> str:
    """The Regieteam's name; its id when it is no longer in the organisation file."""
    return next((t.name for t in org.regieteams if t.id == regieteam_id), regieteam_id)


def partner_name(org: Organisation, partner_id: str) -> str:
    return next((p.name for p in org.partners if p.id == partner_id), partner_id)


@action(ActionName.STATUS_VOLLEDIG)
async def show_full_status(services: Services, member: Member, _value: str) -> Result:
    return await status_overview(services, member, full=True)


# --- /status RT-2026-0042 --------------------------------------------------------------------


async def case_timeline(services: Services, member: Member, reference: str) -> Result:
    """Everything that happened to one case, in order, without personal data; for those
    entitled, the household's details follow in a separate private message."""
    wanted = reference.strip().upper()
    if not REFERENCE.fullmatch(wanted):  # not echoed: it may be a name typed by mistake
        raise CommandRefused("status/referentie_vorm")
    async with services.transaction() as session:
        case = await session.scalar(select(Case).where(Case.reference == wanted))
        if case is None:
            raise CommandRefused("status/casus_onbekend", referentie=wanted)
        require_case_access(services.org, member, case)
        steps = await timeline_steps(services, session, case)
        personal = None
        if entitled_to_personal_data(services.org, member, case):
            personal = await _personal_message(services, session, case, member)
    data = {
        "referentie": case.reference,
        "team": team_name(services.org, case.regieteam_id),
        "corporatie": partner_name(services.org, case.corporation_id),
        "fase": case.phase,
        "scenario": case.scenario,
        "huishouden": case.category_names,
        "stappen": steps,
        "persoonsgegevens_apart": personal is not None and personal.personal,
    }
    result = Result(replies=[Message("status/tijdlijn", data)], value=data)
    if personal is not None:
        result.replies.append(personal)
    if (texts := await timeline_texts(services, member, case)) is not None:
        result.replies.append(texts)
    return result


async def _personal_message(
    services: Services, session: AsyncSession, case: Case, member: Member
) -> Message | None:
    """The household's details, decrypted; the view is recorded by the adapter once this
    message reached the member privately (`commands.audit`). Unreadable data (a wrong key)
    gives the message that says so instead, and no view is recorded."""
    row = await session.get(CasePersonalData, case.id)
    if row is None:
        return None
    try:
        fields = household_fields(services.cipher, row)
    except CommandRefused as unreadable:  # the timeline still shows; this says why not the details
        return unreadable.message
    return Message("status/persoonsgegevens", {"referentie": case.reference, **fields},
                   personal=True, view=audit.view_on_delivery(services, case, member, "naam_adres"))


def _member_name(services: Services, member_id: str | None) -> str:
    if member_id is None:
        return ""
    found = services.org.member(member_id)
    return found.name if found else member_id


def _step(at: datetime | date, kind: str, **data: Any) -> dict[str, Any]:
    return {"op": at, "soort": kind, **data}


async def timeline_steps(
    services: Services, session: AsyncSession, case: Case
) -> list[dict[str, Any]]:
    """The case's history from its rows, oldest first. Free texts (feedback, reasons) are left
    out: they may name people."""
    def name(member_id: str | None) -> str:
        return _member_name(services, member_id)

    steps = [_step(case.filed_at, "gemeld", wie=name(case.filed_by))]
    steps += await _agenda_steps(session, case)
    steps += await _vote_steps(services, session, case)
    for decision in (await session.scalars(select(Decision).where(Decision.case_id == case.id)
                                           .order_by(Decision.recorded_at))).all():
        steps.append(_step(decision.recorded_at, "besluit", wie=name(decision.recorded_by),
                           q1=decision.q1, q3=decision.q3, stappen=list(decision.q2_steps or [])))
        if decision.superseded_at is not None:
            steps.append(_step(decision.superseded_at, "heropend", wie=name(decision.superseded_by)))
    for assignment in (await session.scalars(select(Assignment).where(
            Assignment.case_id == case.id).order_by(Assignment.appointed_at))).all():
        steps.append(_step(assignment.appointed_at, "casemanager", wie=name(assignment.member_id),
                           scenario=assignment.scenario, termijn=assignment.termijn))
    steps += await _plan_and_follow_up_steps(services, session, case)
    steps += await _note_and_view_steps(services, session, case)
    if case.closed_at is not None:
        steps.append(_step(case.closed_at, "gesloten", uitkomst=case.outcome))
    return sorted(steps, key=lambda step: _sort_key(services, step["op"]))


async def _vote_steps(services: Services, session: AsyncSession, case: Case) -> list[dict[str, Any]]:
    """Who voted what (the steps chosen on question 2 too). Where the Regieteam hides votes
    until the decision, an undecided case shows only that someone voted."""
    hidden = services.org.votes_hidden(case.regieteam_id) and case.phase in UNDECIDED_PHASES
    votes = await session.execute(
        select(Vote.member_id, Vote.question, Vote.choice, Vote.steps, Vote.cast_at)
        .where(Vote.case_id == case.id).order_by(Vote.cast_at))
    return [_step(at, "stem", wie=_member_name(services, who), vraag=question, verborgen=hidden,
                  keuze=None if hidden else choice, stappen=[] if hidden else list(chosen or []))
            for who, question, choice, chosen, at in votes.all()]


async def _note_and_view_steps(services: Services, session: AsyncSession,
                               case: Case) -> list[dict[str, Any]]:
    """That a note was written (its text is private) and every view of personal data."""
    rows = await session.execute(
        select(Event.kind, Event.actor_id, Event.at, Event.data)
        .where(Event.case_id == case.id, Event.kind.in_((NOTE_WRITTEN, audit.VIEWED)))
        .order_by(Event.at))
    return [_step(at, "notitie", wie=_member_name(services, who)) if kind == NOTE_WRITTEN
            else _step(at, "inzage", wie=_member_name(services, who), wat=(data or {}).get("wat"),
                       deur=(data or {}).get("deur"))
            for kind, who, at, data in rows.all()]


async def _agenda_steps(session: AsyncSession, case: Case) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(AgendaItem.added_at, AgendaItem.section, Meeting.meeting_date, Meeting.regieteam_id)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id).where(AgendaItem.case_id == case.id)
        .order_by(Meeting.meeting_date))
    return [_step(added, "agenda", vergadering=day, onderdeel=section)
            for added, section, day, _team in rows.all()]


async def _plan_and_follow_up_steps(
    services: Services, session: AsyncSession, case: Case
) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for key, state, at in (await session.execute(
            select(PlanCondition.key, PlanCondition.state, PlanCondition.updated_at)
            .where(PlanCondition.case_id == case.id).order_by(PlanCondition.key))).all():
        steps.append(_step(at, "voorwaarde", sleutel=key, stand=state))
    for reminder in (await session.scalars(select(Reminder).where(Reminder.case_id == case.id)
                                           .order_by(Reminder.due_at))).all():
        steps += _reminder_steps(reminder)
    for who, at, holds in (await session.execute(
            select(Feedback.member_id, Feedback.given_at, Feedback.termijn_holds)
            .where(Feedback.case_id == case.id).order_by(Feedback.given_at))).all():
        steps.append(_step(at, "terugkoppeling", wie=_member_name(services, who), haalbaar=holds))
    for who, at, data in (await session.execute(
            select(Event.actor_id, Event.at, Event.data)
            .where(Event.case_id == case.id, Event.kind.in_(("termijn_changed",)))
            .order_by(Event.at))).all():
        steps.append(_step(at, "termijn_gewijzigd", wie=_member_name(services, who),
                           termijn=(data or {}).get("termijn")))
    for months, due, answered, housed, paying in (await session.execute(
            select(NazorgCheck.months, NazorgCheck.due_date, NazorgCheck.answered_at,
                   NazorgCheck.still_housed, NazorgCheck.paying)
            .where(NazorgCheck.case_id == case.id).order_by(NazorgCheck.months))).all():
        if answered is not None:
            steps.append(_step(answered, "nazorg", maanden=months, woont=housed, betaalt=paying))
        else:
            steps.append(_step(due, "nazorg_gepland", maanden=months))
    return steps


def _reminder_steps(reminder: Reminder) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    if reminder.sent_at is not None:
        steps.append(_step(reminder.sent_at, "herinnering", herinnering=reminder.kind))
    if reminder.acknowledged_at is not None:
        steps.append(_step(reminder.acknowledged_at, "herinnering_gezien",
                           herinnering=reminder.kind))
    if reminder.done_at is not None:
        steps.append(_step(reminder.done_at, "herinnering_gedaan", herinnering=reminder.kind))
    if reminder.cancelled_at is not None and reminder.sent_at is not None:
        steps.append(_step(reminder.cancelled_at, "herinnering_vervallen",
                           herinnering=reminder.kind))
    return steps


def _sort_key(services: Services, moment: datetime | date) -> datetime:
    if isinstance(moment, datetime):
        return services.local(moment)
    return datetime(moment.year, moment.month, moment.day, tzinfo=services.timezone)

