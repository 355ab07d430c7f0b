"""Showing the household's personal data to those entitled.

The data is decrypted first; only a fully decrypted answer carries the view to record, and
the adapter records it once the answer reached the member privately (`commands.audit`). A
refusal is recorded at once. A decryption failure records nothing and says calmly what is
wrong; the values are never logged.
"""

from __future__ import annotations

from sqlalchemy import select

from commands import audit
from commands.actions import action
from commands.cases import case_by_reference
from commands.context import Services
from commands.organisation import Member
from commands.permissions import entitled_to_personal_data, whom_to_ask
from commands.privacy import household_fields
from commands.replies import CommandRefused, Message, Result
from commands.words import ActionName
from store.models import CasePersonalData

WHAT = "naam_adres"  # the audit's name for name, address and postcode


async def show_personal_data(services: Services, member: Member, reference: str) -> Result:
    """Name, address and postcode, privately to the filing corporation, the casemanager, the
    chair and the coordinator. Adapters deliver the reply only in a private view and then
    record the view (`audit.record_delivered`)."""
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
        entitled = entitled_to_personal_data(services.org, member, case)
        if not entitled:
            audit.record_refusal(session, case, member.id, services.request, WHAT, services.now())
        row = await session.scalar(select(CasePersonalData).where(CasePersonalData.case_id == case.id))
        if entitled and row is not None:
            # decrypted inside the transaction: a failed decryption records no view
            fields = household_fields(services.cipher, row)
    if not entitled:
        raise CommandRefused("fout/geen_recht_gegevens", referentie=case.reference,
                             vraag=whom_to_ask(services.org))
    if row is None:
        raise CommandRefused("privacy/al_gewist", referentie=case.reference)
    message = Message("gegevens/toon", {"referentie": case.reference, **fields}, personal=True,
                      view=audit.view_on_delivery(services, case, member, WHAT))
    return Result(replies=[message], value=case.reference)


@action(ActionName.TOON_GEGEVENS)
async def show_button(services: Services, member: Member, value: str) -> Result:
    return await show_personal_data(services, member, value)
