"""Recording the Regieteam's decision on the three questions, by the chair.

The chair closes the vote: per question the outcome follows the majority, or departs from
it with a written reason. Reasons and notes are free text: stored encrypted, never in the
thread or the besluitenlijst (those say "toelichting: privé te bekijken" and offer the
"Toon toelichting" button). A quorum of voters is required. One case discussion gets one
decision; a double click or a retry returns the decision already recorded. Reopening needs
the chair and a reason; the earlier decision is kept as history.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from commands import events, reminders
from commands.agenda import agenda_entries, current_meeting_date, meeting_for, team_of
from commands.cases import case_by_reference, current_decision, member_name, open_discussion
from commands.context import Services
from commands.organisation import Member
from commands.outbox import queue_result
from commands.permissions import require_chair
from commands.replies import CommandRefused, Message, Result, to_partner, to_regieteam
from commands.rollups import refresh_case_figures
from commands.stemmen import CHOICES, STEPS, Tally, tally_for, tally_outgoing
from commands.toelichting import refuse_household_words, show_action
from commands.validation import FieldProblem, check_free_text
from commands.words import Phase, Question
from store.models import AgendaItem, Case, Decision, Meeting

# What the Regieteam can decide on the yes/no questions (a vote may also say "twijfel").
DECISION_CHOICES: dict[str, tuple[str, ...]] = {
    Question.KAN_VOORKOMEN: ("ja", "nee"), Question.MELDPUNT: ("ja", "nee")}


def _reason(services: Services, text: str | None) -> str | None:
    if not text or not text.strip():
        return None
    try:
        return check_free_text(text, services.today(), max_length=1000, min_length=5)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld="uitleg", **problem.data) from None


def _outcome(question: str, given: str | None, tally: Tally) -> tuple[str, bool]:
    """The outcome for one question and whether it departs from the majority."""
    majority = tally.majority(question)
    if given is None:
        if majority not in DECISION_CHOICES[question]:
            raise CommandRefused("fout/besluit_kies_uitkomst", vraag=question, meerderheid=majority)
        return str(majority), False
    if given not in DECISION_CHOICES[question]:
        raise CommandRefused("fout/stem_keuze", vraag=question, keuzes=list(DECISION_CHOICES[question]))
    return given, majority is not None and given != majority


async def record_decision(services: Services, member: Member, reference: str, *,
                          q1: str | None = None, q2_steps: list[str] | None = None,
                          q2_text: str | None = None, q3: str | None = None,
                          reason: str | None = None) -> Result:
    """Close the vote and record the decision (chair only). Recording twice records once."""
    reason_text = _reason(services, reason)
    async with services.transaction() as session:
        case = await case_by_reference(session, reference, lock=True)
        require_chair(services.org, member, case.regieteam_id)
        item = await open_discussion(session, case)
        if item is None or case.phase == Phase.NIEUW:
            raise CommandRefused("fout/niet_op_agenda", referentie=case.reference)
        if (existing := await _current_for_item(session, item)) is not None:
            return _already_recorded(services, case, existing)
        if case.phase == Phase.GESLOTEN:
            raise CommandRefused("fout/stemming_gesloten", referentie=case.reference)
        await refuse_household_words(session, services, case,
                                     {"uitleg": reason_text, "stappen_tekst": q2_text})
        tally = await tally_for(session, services, item)
        decision = _decide(services, member, case, item, tally, q1, q2_steps, q2_text, q3, reason_text)
        try:
            async with session.begin_nested():
                session.add(decision)
        except IntegrityError:  # recorded at the same moment by a retry or a second click
            existing = await _current_for_item(session, item)
            assert existing is not None
            return _already_recorded(services, case, existing)
        item.vote_closed_at = services.now()
        case.phase, case.decided_at = Phase.BESLOTEN, decision.recorded_at
        await refresh_case_figures(session, services, case)
        events.record(session, case, "decision_recorded", member.id, services.now(),
                      q1=decision.q1, q2=decision.q2_steps, q3=decision.q3,
                      afwijking=decision.deviation_reason is not None)
        await reminders.sync_case_reminders(session, services, case)
        return await queue_result(session, services,
                                  _decision_result(services, case, item, tally, decision))


def _decide(services: Services, member: Member, case: Case, item: AgendaItem, tally: Tally,
            q1: str | None, q2_steps: list[str] | None, q2_text: str | None, q3: str | None,
            reason: str | None) -> Decision:
    quorum = services.org.quorum(case.regieteam_id)
    if len(tally.voters) < quorum:
        raise CommandRefused("fout/geen_quorum", referentie=case.reference,
                             aantal=len(tally.voters), quorum=quorum)
    q1_outcome, q1_departs = _outcome(Question.KAN_VOORKOMEN, q1, tally)
    q3_outcome, q3_departs = _outcome(Question.MELDPUNT, q3, tally)
    steps = list(dict.fromkeys(q2_steps)) if q2_steps is not None else tally.majority_steps()
    if any(step not in STEPS for step in steps):
        raise CommandRefused("fout/stem_stappen", stappen=list(STEPS))
    steps_departs = q2_steps is not None and set(steps) != set(tally.majority_steps())
    if (q1_departs or q3_departs or steps_departs) and not reason:
        raise CommandRefused("fout/besluit_reden_nodig", referentie=case.reference)
    cipher = services.cipher
    if q2_text:
        text = _reason(services, q2_text)
    else:  # the voters' notes, together
        text = "; ".join(cipher.decrypt(note) for note in tally.q2_notes) or None
    departs = q1_departs or q3_departs or steps_departs
    return Decision(
        case_id=case.id, agenda_item_id=item.id, q1=q1_outcome, q2_steps=steps,
        q2_text=cipher.encrypt_optional(text), q3=q3_outcome, tally=tally.as_data(),
        voters=sorted(tally.voters),
        deviation_reason=cipher.encrypt_optional(reason) if departs else None,
        recorded_by=member.id, recorded_at=services.now(),
    )


async def _current_for_item(session: AsyncSession, item: AgendaItem) -> Decision | None:
    return await session.scalar(select(Decision).where(
        Decision.agenda_item_id == item.id, Decision.superseded_at.is_(None)))


def decision_data(services: Services, case: Case, decision: Decision) -> dict[str, Any]:
    """What may be said about a decision in a shared channel: choices, names, dates, and
    whether there is a note or a reason to depart from the majority (never what it says)."""
    return {
        "referentie": case.reference, "q1": decision.q1, "q2": decision.q2_steps,
        "q2_toelichting": decision.q2_text is not None, "q3": decision.q3, "tally": decision.tally,
        "stemmers": [member_name(services, m) for m in decision.voters],
        "door": member_name(services, decision.recorded_by), "op": decision.recorded_at,
        "afwijking": decision.deviation_reason is not None,
        "corporatie": services.org.partner(case.corporation_id).name,
    }


def _already_recorded(services: Services, case: Case, decision: Decision) -> Result:
    return Result(value=decision.id).reply("besluit/al_vastgelegd",
                                           **decision_data(services, case, decision))


def _decision_result(services: Services, case: Case, item: AgendaItem, tally: Tally,
                     decision: Decision) -> Result:
    data = decision_data(services, case, decision)
    result = Result(value=decision.id)
    tally_outgoing(result, services, case, item, tally, closed=True)
    actions = (show_action(case.reference),) if data["q2_toelichting"] or data["afwijking"] else ()
    result.send(to_regieteam(case.regieteam_id), Message("besluit/vastgelegd", data, actions),
                thread_case=case.id)
    result.send(to_partner(case.corporation_id), Message("besluit/corporatie", data))
    # Q3 = ja: the registration request to the Meldpunt is the first row of the "mbz"
    # reminder series (made by sync_case_reminders above), with Ontvangen/Gedaan buttons.
    return result.reply("besluit/bevestiging", **data)


async def reopen_decision(services: Services, member: Member, reference: str, reason: str) -> Result:
    """Reopen a recorded decision (chair, with a reason); the old decision stays in the history."""
    reason_text = _reason(services, reason)
    if reason_text is None:
        raise CommandRefused("fout/heropenen_reden_nodig")
    async with services.transaction() as session:
        case = await case_by_reference(session, reference, lock=True)
        require_chair(services.org, member, case.regieteam_id)
        decision = await current_decision(session, case)
        if decision is None or case.phase == Phase.GESLOTEN:
            raise CommandRefused("fout/geen_besluit_om_te_heropenen", referentie=case.reference)
        await refuse_household_words(session, services, case, {"uitleg": reason_text})
        decision.superseded_at, decision.superseded_by = services.now(), member.id
        decision.reopen_reason = services.cipher.encrypt(reason_text)
        item = await session.get(AgendaItem, decision.agenda_item_id)
        assert item is not None
        item.vote_closed_at = None
        case.phase, case.decided_at = Phase.OP_AGENDA, None
        await refresh_case_figures(session, services, case)
        events.record(session, case, "decision_reopened", member.id, services.now(),
                      decision=decision.id)
        await reminders.sync_case_reminders(session, services, case)
        result = Result(value=decision.id)
        shared = {"referentie": case.reference, "door": member.name}
        result.send(to_regieteam(case.regieteam_id),
                    Message("besluit/heropend", shared, (show_action(case.reference),)),
                    thread_case=case.id)
        await queue_result(session, services, result)
    return result.reply("besluit/heropend", **shared)


# --- besluitenlijst --------------------------------------------------------------------------


async def publish_besluitenlijst(services: Services, member: Member,
                                 regieteam_id: str | None = None) -> Result:
    """After the meeting, the chair publishes its decision list; it is kept with the meeting."""
    team = team_of(services, member, regieteam_id)
    require_chair(services.org, member, team)
    async with services.transaction() as session:
        meeting = await _latest_started_meeting(session, services, team)
        rows, carried = await _besluitenlijst_rows(session, services, meeting)
        data = {"team": services.org.regieteam(team).name, "datum": meeting.meeting_date,
                "besluiten": rows, "doorgeschoven": carried}
        meeting.besluitenlijst = _jsonable(data)
        meeting.besluitenlijst_at = services.now()
        events.record(session, None, "besluitenlijst_published", member.id, services.now(),
                      meeting=meeting.id)
        result = Result(value=meeting.id)
        result.send(to_regieteam(team), Message("besluit/besluitenlijst", data),
                    update_key=f"besluitenlijst:{meeting.id}")
        await queue_result(session, services, result)
    return result.confirm("besluit/besluitenlijst_geplaatst", "besluit/besluitenlijst_wacht",
                          team=data["team"], datum=meeting.meeting_date)


async def _latest_started_meeting(session: AsyncSession, services: Services, team: str) -> Meeting:
    """The meeting the list is about: the latest one that has begun or already holds a
    decision (a vote can be closed before the meeting starts)."""
    decided = (select(Decision.id).join(AgendaItem, Decision.agenda_item_id == AgendaItem.id)
               .where(AgendaItem.meeting_id == Meeting.id, Decision.superseded_at.is_(None))
               .exists())
    meeting = await session.scalar(
        select(Meeting).where(Meeting.regieteam_id == team,
                              or_(Meeting.starts_at <= services.now(), decided))
        .order_by(Meeting.meeting_date.desc()).limit(1))
    if meeting is None:
        day = current_meeting_date(services, team)
        meeting = await meeting_for(session, services, team, day)
        if services.local(meeting.starts_at) > services.local(services.now()):
            raise CommandRefused("fout/nog_geen_overleg", datum=day)
    return meeting


async def _besluitenlijst_rows(session: AsyncSession, services: Services,
                               meeting: Meeting) -> tuple[list[dict[str, Any]], list[str]]:
    rows, carried = [], []
    for entry in await agenda_entries(session, meeting):
        decision = await _current_for_item(session, entry.item)
        if decision is None:
            carried.append(entry.case.reference)
            continue
        rows.append({**decision_data(services, entry.case, decision),
                     "casemanager": member_name(services, entry.case.casemanager_id)
                     if entry.case.casemanager_id else None,
                     "termijn": entry.case.termijn})
    return rows, carried


def _jsonable(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_jsonable(v) for v in data]
    if hasattr(data, "isoformat"):
        return data.isoformat()
    return data


__all__ = ["CHOICES", "DECISION_CHOICES", "publish_besluitenlijst", "record_decision", "reopen_decision"]
