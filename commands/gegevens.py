"""Showing the household's personal data to those entitled, and recording every view."""

from __future__ import annotations

from sqlalchemy import select

from bot.orgconfig import Member
from commands import events
from commands.actions import action
from commands.cases import case_by_reference
from commands.context import Services
from commands.permissions import entitled_to_personal_data, whom_to_ask
from commands.replies import CommandRefused, Message, Result
from store.models import CasePersonalData


async def show_personal_data(services: Services, member: Member, reference: str) -> Result:
    """Name, address and postcode, privately to the filing corporation, the casemanager, the
    chair and the coordinator. Adapters deliver the reply only in a private view."""
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
        entitled = entitled_to_personal_data(services.org, member, case)
        events.record(session, case, "personal_data_viewed" if entitled else "personal_data_refused",
                      member.id, services.now())
        row = await session.scalar(select(CasePersonalData).where(CasePersonalData.case_id == case.id))
    if not entitled:
        raise CommandRefused("fout/geen_recht_gegevens", referentie=case.reference,
                             vraag=whom_to_ask(services.org))
    assert row is not None
    cipher = services.cipher
    message = Message("gegevens/toon", {
        "referentie": case.reference, "naam": cipher.decrypt(row.tenant_name),
        "adres": cipher.decrypt(row.address), "postcode": cipher.decrypt(row.postcode),
    }, personal=True)
    return Result(replies=[message], value=case.reference)


@action("toon_gegevens")
async def show_button(services: Services, member: Member, value: str) -> Result:
    return await show_personal_data(services, member, value)
