"""Mirror the organisation file into the database, so cases can refer to partners and members."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.organisation import Organisation
from store.models import MemberRow, PartnerRow, RegieteamRow


async def sync_organisation(session: AsyncSession, org: Organisation) -> None:
    """Insert or update Regieteams, partners and members. Rows no longer in the file stay,
    because old cases still refer to them."""
    teams = {row.id: row for row in (await session.scalars(select(RegieteamRow))).all()}
    for team in org.regieteams:
        row = teams.get(team.id) or RegieteamRow(id=team.id)
        row.name = team.name
        session.add(row)
    partners = {row.id: row for row in (await session.scalars(select(PartnerRow))).all()}
    for partner in org.partners:
        prow = partners.get(partner.id) or PartnerRow(id=partner.id)
        prow.name, prow.kind = partner.name, partner.kind
        session.add(prow)
    await session.flush()
    members = {row.id: row for row in (await session.scalars(select(MemberRow))).all()}
    for member in org.members:
        mrow = members.get(member.id) or MemberRow(id=member.id)
        mrow.name, mrow.partner_id, mrow.roles = member.name, member.partner, list(member.roles)
        session.add(mrow)
    await session.flush()
