"""Notes on a case's timeline: a member entitled to the case's free text writes one; it is
stored encrypted, shown only privately to the entitled (with the rest of the toelichting, and
with `/status RT-…`), and both writing and every view are recorded in the audit."""

from __future__ import annotations

from commands import audit, events
from commands.cases import case_by_reference
from commands.context import Services
from commands.organisation import Member
from commands.permissions import entitled_to_free_text, whom_to_ask
from commands.replies import CommandRefused, Result
from commands.toelichting import WHAT, refuse_household_words
from commands.validation import FieldProblem, check_free_text
from store.models import CaseNote

WRITTEN = "note_added"
NOTE_LENGTH = (5, 2000)


def _checked(services: Services, text: str) -> str:
    try:
        return check_free_text(text, services.today(), max_length=NOTE_LENGTH[1],
                               min_length=NOTE_LENGTH[0])
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld="notitie", **problem.data) from None


async def add_note(services: Services, member: Member, reference: str, text: str) -> Result:
    """Add a private note to the timeline of the case."""
    checked = _checked(services, text)
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
        if not entitled_to_free_text(services.org, member, case):
            audit.record_refusal(session, case, member.id, services.request, WHAT, services.now())
            refused = CommandRefused("fout/geen_recht_notitie", referentie=case.reference,
                                     vraag=whom_to_ask(services.org))
        else:
            refused = None
            await refuse_household_words(session, services, case, {"notitie": checked})
            session.add(CaseNote(case_id=case.id, member_id=member.id, written_at=services.now(),
                                 text=services.cipher.encrypt(checked)))
            events.record(session, case, WRITTEN, member.id, services.now())
    if refused is not None:
        raise refused
    return Result(value=case.reference).reply("notitie/toegevoegd", referentie=case.reference)
