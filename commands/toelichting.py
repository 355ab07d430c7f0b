"""Free text on a case: the toelichting.

Everything people type in their own words (voortraject, reasons, step notes, feedback,
shelter, postpone reasons) is personal data. It is stored encrypted, refused when it names
the household itself, never posted in a shared channel (those get "toelichting: privé te
bekijken" and a "Toon toelichting" button), and shown only privately to those who need the
case's content. Views go through the audit like name and address (`commands.audit`, what
"toelichting"): a refusal is recorded at once, a view once the private answer arrived.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands import audit
from commands.actions import action
from commands.cases import case_by_reference, member_name
from commands.context import Services
from commands.organisation import Member
from commands.permissions import entitled_to_free_text, whom_to_ask
from commands.replies import Action, CommandRefused, Message, Result
from commands.validation import FieldProblem, HouseholdWords, check_household_words
from store.models import Case, CaseNote, CasePersonalData, Decision, Feedback, Reminder, Vote

SHOW = "toon_toelichting"
WHAT = "toelichting"  # the audit's name for a case's free text


def show_action(reference: str) -> Action:
    """The "Toon toelichting" button for a shared message about a case."""
    return Action(SHOW, reference, "actie.toon_toelichting")


# --- input: never the household's own name, street or postcode --------------------------------


async def household_words(session: AsyncSession, services: Services, case: Case) -> HouseholdWords:
    """The words that identify this case's household, decrypted for the check only."""
    row = await session.get(CasePersonalData, case.id)
    if row is None:
        return HouseholdWords()
    cipher = services.cipher
    return HouseholdWords.of(cipher.decrypt(row.tenant_name), cipher.decrypt(row.address),
                             cipher.decrypt(row.postcode))


async def refuse_household_words(session: AsyncSession, services: Services, case: Case,
                                 texts: dict[str, str | None]) -> None:
    """Refuse (CommandRefused, naming the field) a text that names the case's household.
    `texts` maps the field name used in messages (`veld`) to the typed text."""
    present = {veld: text for veld, text in texts.items() if text}
    if not present:
        return
    household = await household_words(session, services, case)
    for veld, text in present.items():
        try:
            check_household_words(text, household)
        except FieldProblem as problem:
            raise CommandRefused(f"fout/{problem.template}", veld=veld, **problem.data) from None


# --- output: privately, to those entitled, recorded --------------------------------------------


async def show_free_text(services: Services, member: Member, reference: str) -> Result:
    """All free text of one case, as a private message for the entitled. Adapters deliver a
    `personal` message only in a private view (ephemeral, private chat, console) and then
    record the view it carries (`audit.record_delivered`)."""
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
        entitled = entitled_to_free_text(services.org, member, case)
        if not entitled:
            audit.record_refusal(session, case, member.id, services.request, WHAT, services.now())
        else:
            try:
                data = await _free_text_of(session, services, case)
            except ValueError:  # a token the current key cannot open: nothing is shown
                raise CommandRefused("fout/toelichting_onleesbaar", referentie=case.reference,
                                     vraag=whom_to_ask(services.org)) from None
    if not entitled:
        raise CommandRefused("fout/geen_recht_toelichting", referentie=case.reference,
                             vraag=whom_to_ask(services.org))
    message = Message("toelichting/toon", data, personal=True,
                      view=audit.view_on_delivery(services, case, member, WHAT))
    return Result(replies=[message], value=case.reference)


@action(SHOW)
async def show_button(services: Services, member: Member, value: str) -> Result:
    return await show_free_text(services, member, value)


async def _free_text_of(session: AsyncSession, services: Services, case: Case) -> dict[str, Any]:
    open_ = services.cipher.decrypt_optional
    votes = (await session.scalars(select(Vote).where(
        Vote.case_id == case.id, Vote.steps_text.is_not(None)).order_by(Vote.cast_at))).all()
    decisions = (await session.scalars(select(Decision).where(
        Decision.case_id == case.id).order_by(Decision.recorded_at, Decision.id))).all()
    feedback = (await session.scalars(select(Feedback).where(
        Feedback.case_id == case.id).order_by(Feedback.given_at, Feedback.id))).all()
    notes = (await session.scalars(select(CaseNote).where(
        CaseNote.case_id == case.id).order_by(CaseNote.written_at, CaseNote.id))).all()
    postponed = (await session.scalars(select(Reminder).where(
        Reminder.case_id == case.id, Reminder.postpone_reason.is_not(None))
        .order_by(Reminder.postponed_to, Reminder.id))).all()
    return {
        "referentie": case.reference,
        "reden_anders": open_(case.reason_other),
        "voortraject": open_(case.voortraject),
        "onvoldoende": open_(case.insufficient_because),
        "contactpersoon": open_(case.contact_person),
        "stemmen": [{"wie": member_name(services, v.member_id), "op": v.cast_at,
                     "tekst": open_(v.steps_text)} for v in votes],
        "besluiten": [{"op": d.recorded_at, "door": member_name(services, d.recorded_by),
                       "stappen": open_(d.q2_text), "afwijking": open_(d.deviation_reason),
                       "heropend_op": d.superseded_at,
                       "heropend_door": member_name(services, d.superseded_by)
                       if d.superseded_by else None,
                       "heropenen": open_(d.reopen_reason)} for d in decisions],
        "terugkoppelingen": [{"wie": member_name(services, f.member_id), "op": f.given_at,
                              "tekst": open_(f.text)} for f in feedback],
        "notities": [{"wie": member_name(services, n.member_id), "op": n.written_at,
                      "tekst": open_(n.text)} for n in notes],
        "uitstel": [{"herinnering": r.kind, "tot": r.postponed_to,
                     "reden": open_(r.postpone_reason)} for r in postponed],
        "uitkomst": case.outcome,
        "uitkomst_reden": open_(case.outcome_reason),
        "opvang": open_(case.shelter),
    }
