"""Finding cases and saying what may be said about them in a shared channel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.context import Services
from commands.replies import CommandRefused
from store.models import AgendaItem, Case, Decision, Meeting


def dialect_of(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name


def normalise_reference(text: str) -> str:
    return text.strip().upper()


async def case_by_reference(session: AsyncSession, reference: str, *, lock: bool = False) -> Case:
    """The case with this reference, or a refusal that says how a reference looks."""
    query = select(Case).where(Case.reference == normalise_reference(reference))
    if lock:
        query = query.with_for_update()
    case = await session.scalar(query)
    if case is None:
        raise CommandRefused("fout/casus_onbekend", referentie=reference.strip()[:20])
    return case


async def open_discussion(session: AsyncSession, case: Case) -> AgendaItem | None:
    """The case's most recent agenda item: where its votes and decision belong."""
    return await session.scalar(
        select(AgendaItem).where(AgendaItem.case_id == case.id)
        .join(Meeting).order_by(Meeting.meeting_date.desc()).limit(1)
    )


async def current_decision(session: AsyncSession, case: Case) -> Decision | None:
    return await session.scalar(
        select(Decision).where(Decision.case_id == case.id, Decision.superseded_at.is_(None))
        .order_by(Decision.recorded_at.desc()).limit(1)
    )


def is_urgent(services: Services, case: Case) -> bool:
    """A hearing or eviction within the urgent window (default 14 days)."""
    if case.urgency_date is None:
        return False
    window = timedelta(days=services.org.rules.urgent_within_days)
    return case.urgency_date - services.today() <= window


def case_summary(services: Services, case: Case) -> dict[str, Any]:
    """What may be said about a case in a shared channel: no personal data."""
    org = services.org
    return {
        "referentie": case.reference,
        "corporatie": org.partner(case.corporation_id).name,
        "team": org.regieteam(case.regieteam_id).name,
        "wijk": case.wijk,
        "huishouden": case.category_names,
        "kinderen": case.minor_children,
        "reden": case.reason,
        "achterstand": case.arrears_cents,
        "maanden": case.arrears_months,
        "zitting": case.zitting_date,
        "ontruiming": case.ontruiming_date,
        "spoed": is_urgent(services, case),
    }


def member_name(services: Services, member_id: str | None) -> str:
    if member_id is None:
        return "–"
    member = services.org.member(member_id)
    return member.name if member else member_id
