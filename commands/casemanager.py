"""Appointing the casemanager, which starts scenario 1 (prevent) or 2 (eviction plan).

Scenario 1 (Q1 = ja): the corporation suspends the eviction and freezes the arrears; the
four conditions are tracked, plus "bewindvoering geadviseerd → opgevolgd".
Scenario 2 (Q1 = nee): own network checked, crisisplek or other housing, and
Jeugdbescherming involved when minor children are in the household.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands import events, reminders
from commands.cases import case_by_reference, case_summary, current_decision
from commands.context import Services
from commands.organisation import Member
from commands.outbox import queue_result
from commands.permissions import require_chair
from commands.replies import Action, CommandRefused, Message, Result, to_member, to_partner, to_regieteam
from commands.validation import FieldProblem, parse_date
from commands.words import ActionName, Phase
from store.models import Assignment, Case, PlanCondition

SCENARIO_CONDITIONS = {
    1: ("opschorting_ontruiming", "achterstand_bevroren", "lopende_huur_betaald", "huurder_werkt_mee",
        "inzage_inkomen_uitgaven", "betalingsvoorstel", "bewindvoering_opgevolgd"),
    2: ("eigen_netwerk", "crisisplek_of_woonruimte", "jeugdbescherming"),
}
CONDITION_STATES = ("open", "voldaan", "niet_voldaan", "nvt")


def parse_termijn(services: Services, text: str | date) -> date:
    """A termijn lies in the future, at most two years ahead."""
    try:
        termijn = text if isinstance(text, date) else parse_date(text)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld="termijn") from None
    if termijn <= services.today():
        raise CommandRefused("fout/termijn_verleden")
    if termijn > services.today() + timedelta(days=731):
        raise CommandRefused("fout/termijn_te_ver")
    return termijn


def _interval(services: Services, weeks: int | str | None) -> int:
    if weeks is None or weeks == "":
        return services.org.rules.terugkoppeling_weeks
    try:
        value = int(weeks)
    except ValueError:
        raise CommandRefused("fout/interval_vorm") from None
    if not 1 <= value <= 26:
        raise CommandRefused("fout/interval_vorm")
    return value


def conditions_for(case: Case, scenario: int) -> tuple[str, ...]:
    keys = SCENARIO_CONDITIONS[scenario]
    if scenario == 2 and case.minor_children == 0:
        keys = tuple(k for k in keys if k != "jeugdbescherming")
    return keys


async def appoint(services: Services, member: Member, reference: str, casemanager_id: str,
                  termijn: str | date, interval_weeks: int | str | None = None) -> Result:
    """The chair appoints a casemanager with a termijn and a terugkoppeling rhythm."""
    termijn_date = parse_termijn(services, termijn)
    weeks = _interval(services, interval_weeks)
    casemanager = services.org.member(casemanager_id)
    if casemanager is None:
        raise CommandRefused("fout/lid_onbekend", lid=casemanager_id[:32])
    async with services.transaction() as session:
        case = await case_by_reference(session, reference, lock=True)
        require_chair(services.org, member, case.regieteam_id)
        decision = await current_decision(session, case)
        if decision is None or case.phase not in (Phase.BESLOTEN, Phase.IN_UITVOERING):
            raise CommandRefused("fout/eerst_besluit", referentie=case.reference)
        current = await _current_assignment(session, case)
        if current and (current.member_id, current.termijn, current.terugkoppeling_weeks) == (
                casemanager.id, termijn_date, weeks):
            return Result(value=current.id).reply("casemanager/al_aangewezen", referentie=case.reference,
                                                  naam=casemanager.name)
        scenario = 1 if decision.q1 == "ja" else 2
        assignment = await _assign(session, services, member, case, casemanager, scenario,
                                   termijn_date, weeks, current)
        await reminders.sync_case_reminders(session, services, case)
        return await queue_result(session, services,
                                  _appointed(services, member, case, casemanager, assignment))


async def _current_assignment(session: AsyncSession, case: Case) -> Assignment | None:
    return await session.scalar(select(Assignment).where(
        Assignment.case_id == case.id, Assignment.ended_at.is_(None)))


async def _assign(session: AsyncSession, services: Services, member: Member, case: Case,
                  casemanager: Member, scenario: int, termijn: date, weeks: int,
                  current: Assignment | None) -> Assignment:
    now = services.now()
    if current is not None:
        current.ended_at = now
    assignment = Assignment(case_id=case.id, member_id=casemanager.id, scenario=scenario,
                            termijn=termijn, terugkoppeling_weeks=weeks, appointed_by=member.id,
                            appointed_at=now)
    session.add(assignment)
    case.scenario, case.casemanager_id, case.termijn = scenario, casemanager.id, termijn
    case.terugkoppeling_weeks = weeks
    case.next_terugkoppeling = services.today() + timedelta(weeks=weeks)
    case.phase = Phase.IN_UITVOERING
    existing = set((await session.scalars(
        select(PlanCondition.key).where(PlanCondition.case_id == case.id))).all())
    for key in conditions_for(case, scenario):
        if key not in existing:
            session.add(PlanCondition(case_id=case.id, key=key, state="open", updated_at=now))
    await session.flush()
    events.record(session, case, "casemanager_appointed", member.id, now, casemanager=casemanager.id,
                  scenario=scenario, termijn=termijn.isoformat(), weken=weeks)
    return assignment


def _appointed(services: Services, member: Member, case: Case, casemanager: Member,
               assignment: Assignment) -> Result:
    data = {**case_summary(services, case), "scenario": assignment.scenario,
            "casemanager": casemanager.name,
            "casemanager_partner": services.org.partner(casemanager.partner).name,
            "termijn": assignment.termijn, "weken": assignment.terugkoppeling_weeks,
            "volgende": case.next_terugkoppeling,
            "voorwaarden": list(conditions_for(case, assignment.scenario))}
    ref = case.reference
    result = Result(value=assignment.id)
    result.send(to_member(casemanager.id), Message("casemanager/jij_bent_aangewezen", data, (
        Action(ActionName.TOON_GEGEVENS, ref, "actie.toon_gegevens"),
        Action(ActionName.TOON_TOELICHTING, ref, "actie.toon_toelichting"),
        Action(ActionName.TERUGKOPPELING_GEVEN, ref, "actie.terugkoppeling_geven"))))
    result.send(to_regieteam(case.regieteam_id), Message("casemanager/aangewezen", data),
                thread_case=case.id)
    result.send(to_partner(case.corporation_id), Message("casemanager/corporatie", data))
    return result.reply("casemanager/aangewezen", **data)
