"""Terugkoppeling: progress on a case from the casemanager or a partner on the case.

The text is free text: stored encrypted; the thread hears who gave feedback and the state of
each condition, and that the text can be read privately with "Toon toelichting"."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands import events, reminders
from commands.agenda import add_to_next_meeting
from commands.casemanager import CONDITION_STATES, parse_termijn
from commands.cases import case_by_reference, case_summary
from commands.context import Services
from commands.organisation import Member
from commands.outbox import queue_result
from commands.permissions import is_chair_of, may_vote, whom_to_ask
from commands.replies import CommandRefused, Message, Result, to_regieteam
from commands.toelichting import refuse_household_words, show_action
from commands.validation import FieldProblem, check_free_text
from commands.words import Phase
from store.models import Case, Feedback, PlanCondition


def _may_give_feedback(services: Services, member: Member, case: Case) -> bool:
    """The casemanager, the Regieteam's members, the coordinator and the filing corporation."""
    return (case.casemanager_id == member.id or may_vote(services.org, member, case.regieteam_id)
            or (member.has_role("melder") and member.partner == case.corporation_id))


def _feedback_text(services: Services, text: str) -> str:
    try:
        return check_free_text(text, services.today(), max_length=2000, min_length=5)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld="terugkoppeling", **problem.data) from None


async def give_feedback(services: Services, member: Member, reference: str, text: str,
                        conditions: dict[str, str] | None = None, termijn_holds: bool = True,
                        new_termijn: str | None = None, submission_key: str | None = None) -> Result:
    """Record feedback: progress per condition, free text, and whether the termijn holds.
    A new termijn needs the chair; a termijn that no longer holds puts the case on the agenda."""
    body = _feedback_text(services, text)
    async with services.transaction() as session:
        case = await case_by_reference(session, reference, lock=True)
        if not _may_give_feedback(services, member, case):
            raise CommandRefused("fout/geen_terugkoppeling_recht", referentie=case.reference,
                                 vraag=whom_to_ask(services.org))
        if case.phase != Phase.IN_UITVOERING:
            raise CommandRefused("fout/niet_in_uitvoering", referentie=case.reference)
        if submission_key and await session.scalar(
                select(Feedback.id).where(Feedback.submission_key == submission_key)):
            return Result().reply("terugkoppeling/ontvangen", referentie=case.reference, dubbel=True)
        await refuse_household_words(session, services, case, {"terugkoppeling": body})
        new_date = None
        if new_termijn:
            if not is_chair_of(services.org, member, case.regieteam_id):
                raise CommandRefused("fout/nieuwe_termijn_voorzitter")
            new_date = parse_termijn(services, new_termijn)
        states = await _update_conditions(session, services, member, case, conditions or {})
        now = services.now()
        session.add(Feedback(case_id=case.id, member_id=member.id, given_at=now,
                             text=services.cipher.encrypt(body),
                             termijn_holds=termijn_holds, conditions=conditions or {},
                             submission_key=submission_key))
        case.next_terugkoppeling = services.today() + timedelta(weeks=case.terugkoppeling_weeks or 4)
        events.record(session, case, "feedback_given", member.id, now, termijn_houdt=termijn_holds,
                      voorwaarden=conditions or {})
        if new_date is not None:
            events.record(session, case, "termijn_changed", member.id, now,
                          van=case.termijn.isoformat() if case.termijn else None, naar=new_date.isoformat())
            case.termijn = new_date
        elif not termijn_holds:
            await add_to_next_meeting(session, services, case, "termijn", member.id)
        await reminders.sync_case_reminders(session, services, case)
        data = {**case_summary(services, case), "door": member.name, "voorwaarden": states,
                "termijn_houdt": termijn_holds, "termijn": case.termijn,
                "volgende": case.next_terugkoppeling, "nieuwe_termijn": new_date}
        result = Result(value=case.reference)
        result.send(to_regieteam(case.regieteam_id),
                    Message("terugkoppeling/gegeven", data, (show_action(case.reference),)),
                    thread_case=case.id)
        await queue_result(session, services, result)
    return result.reply("terugkoppeling/ontvangen", **data, dubbel=False)


async def _update_conditions(session: AsyncSession, services: Services, member: Member,
                             case: Case, updates: dict[str, str]) -> dict[str, str]:
    rows = {row.key: row for row in (await session.scalars(
        select(PlanCondition).where(PlanCondition.case_id == case.id))).all()}
    for key, state in updates.items():
        if key not in rows:
            raise CommandRefused("fout/voorwaarde_onbekend", voorwaarden=sorted(rows))
        if state not in CONDITION_STATES:
            raise CommandRefused("fout/voorwaarde_stand", standen=list(CONDITION_STATES))
        rows[key].state, rows[key].updated_at, rows[key].updated_by = state, services.now(), member.id
    return {key: row.state for key, row in rows.items()}
