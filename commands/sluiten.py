"""Closing a case with an outcome that compares with national figures.

Families with minor children and vulnerable households are never put on the street:
for them "uitgezet zonder opvang" is refused, and "uitgezet met opvang" needs the shelter.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.orgconfig import Member
from commands import events, reminders
from commands.cases import case_by_reference, case_summary
from commands.context import Services
from commands.permissions import is_chair_of, whom_to_ask
from commands.replies import CommandRefused, Message, Result, to_member, to_partner, to_regieteam
from commands.validation import FieldProblem, check_free_text
from store.models import Assignment, Case

OUTCOMES = (
    "blijft_betalingsregeling", "blijft_laatste_kansovereenkomst", "blijft_vonnis_niet_uitgevoerd",
    "verhuisd_andere_woonvorm", "sleutel_ingeleverd", "vertrokken_onbekend",
    "uitgezet_met_opvang", "uitgezet_zonder_opvang", "ingetrokken",
)
TENANT_STAYS = tuple(o for o in OUTCOMES if o.startswith("blijft_"))


def _text(services: Services, text: str | None, field: str, minimum: int) -> str | None:
    if not text or not text.strip():
        return None
    try:
        return check_free_text(text, services.today(), max_length=1000, min_length=minimum)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld=field, **problem.data) from None


def _may_close(services: Services, member: Member, case: Case, outcome: str) -> bool:
    """The chair of the case's Regieteam and the coordinator close cases; the filing
    corporation may withdraw its own melding."""
    if member.has_role("coordinator") or is_chair_of(services.org, member, case.regieteam_id):
        return True
    return outcome == "ingetrokken" and member.has_role("melder") and member.partner == case.corporation_id


def _check_outcome(case: Case, outcome: str, shelter: str | None) -> None:
    if outcome not in OUTCOMES:
        raise CommandRefused("fout/uitkomst_onbekend", uitkomsten=list(OUTCOMES))
    if outcome == "uitgezet_zonder_opvang" and case.protected:
        raise CommandRefused("fout/nooit_op_straat", referentie=case.reference)
    if outcome == "uitgezet_met_opvang" and not shelter:
        raise CommandRefused("fout/opvang_nodig", referentie=case.reference)


async def close_case(services: Services, member: Member, reference: str, outcome: str,
                     reason: str, shelter: str | None = None) -> Result:
    """Close the case; its reminders stop, the corporation and casemanager hear the outcome."""
    reason_text = _text(services, reason, "uitleg", 5)
    if reason_text is None:
        raise CommandRefused("fout/sluiten_reden_nodig")
    shelter_text = _text(services, shelter, "opvang", 3)
    async with services.transaction() as session:
        case = await case_by_reference(session, reference, lock=True)
        if not _may_close(services, member, case, outcome):
            raise CommandRefused("fout/geen_rol", rollen=["voorzitter", "coordinator"],
                                 team=services.org.regieteam(case.regieteam_id).name,
                                 vraag=whom_to_ask(services.org))
        if case.phase == "gesloten":
            if case.outcome == outcome:
                return Result(value=case.reference).reply("sluiten/al_gesloten", referentie=case.reference,
                                                          uitkomst=case.outcome)
            raise CommandRefused("fout/al_gesloten", referentie=case.reference, uitkomst=case.outcome)
        _check_outcome(case, outcome, shelter_text)
        now = services.now()
        case.phase, case.closed_at, case.outcome = "gesloten", now, outcome
        case.outcome_reason, case.shelter = reason_text, shelter_text
        current = await session.scalar(select(Assignment).where(
            Assignment.case_id == case.id, Assignment.ended_at.is_(None)))
        if current is not None:
            current.ended_at = now
        events.record(session, case, "case_closed", member.id, now, uitkomst=outcome)
        await reminders.sync_case_reminders(session, services, case)
    return _closed(services, member, case)


def _closed(services: Services, member: Member, case: Case) -> Result:
    data = {**case_summary(services, case), "uitkomst": case.outcome, "door": member.name,
            "blijft": case.outcome in TENANT_STAYS}
    result = Result(value=case.reference)
    result.send(to_partner(case.corporation_id), Message("sluiten/corporatie", data))
    result.send(to_regieteam(case.regieteam_id), Message("sluiten/gesloten", data), thread_case=case.id)
    if case.casemanager_id and case.casemanager_id != member.id:
        result.send(to_member(case.casemanager_id), Message("sluiten/gesloten", data))
    return result.reply("sluiten/gesloten", **data)
