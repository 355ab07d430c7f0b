"""The weekly digest for the coördinator PHU (the scheduler of the reminders work calls it).

One message per coordinator, sent to them directly: the new meldingen and decisions of the
past seven days, what is overdue now, and the court and eviction dates of the next 14 days.
No personal data: cases are named by reference, Regieteam and corporation.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from commands.context import Services
from commands.replies import Message, Outgoing, to_member
from commands.status import (
    FULL_LIST,
    LOOK_AHEAD_DAYS,
    case_list,
    overdue_termijn,
    overdue_terugkoppeling,
    pending_confirmations,
    team_name,
    urgency_order,
)
from commands.words import OPEN_PHASES
from store.models import Case, Decision

WEEK = timedelta(days=7)
DIGEST_LIST = 20


async def weekly_digest(services: Services) -> list[Outgoing]:
    """The digest for every coordinator; an empty list when the organisation has none."""
    coordinators = services.org.with_role("coordinator")
    if not coordinators:
        return []
    message = Message("status/digest", await digest_content(services))
    return [Outgoing(to_member(member.id), message) for member in coordinators]


async def digest_content(services: Services) -> dict[str, Any]:
    now = services.now()
    today = services.today()
    since = now - WEEK
    everything = true()
    async with services.transaction() as session:
        return {
            "van": services.local(since).date(),
            "tot": today,
            "dagen": LOOK_AHEAD_DAYS,
            "nieuw": (await case_list(services, session, Case.filed_at >= since,
                                      urgency_order(), DIGEST_LIST)).as_data(),
            "besluiten": await decisions_since(services, session, since),
            "termijn_verlopen": (await case_list(services, session,
                                                 overdue_termijn(everything, today),
                                                 (Case.termijn,), DIGEST_LIST)).as_data(),
            "terugkoppeling_te_laat": (await case_list(
                services, session, overdue_terugkoppeling(everything, today),
                (Case.next_terugkoppeling,), DIGEST_LIST)).as_data(),
            "bevestigingen": await pending_confirmations(services, session, everything,
                                                         DIGEST_LIST),
            "zittingen": (await case_list(services, session, upcoming_dates(today),
                                          urgency_order(), FULL_LIST)).as_data(),
        }


def upcoming_dates(today: date) -> ColumnElement[bool]:
    """Open cases with a court hearing or eviction date in the next 14 days."""
    end = today + timedelta(days=LOOK_AHEAD_DAYS)
    return and_(Case.phase.in_(OPEN_PHASES),
                or_(Case.zitting_date.between(today, end), Case.ontruiming_date.between(today, end)))


async def decisions_since(services: Services, session: AsyncSession, since: datetime) -> dict[str, Any]:
    """Decisions recorded since `since` that still stand (a reopened one is replaced)."""
    query = (select(Case.reference, Case.regieteam_id, Decision.q1, Decision.q3,
                    Decision.recorded_at)
             .join(Case, Case.id == Decision.case_id)
             .where(Decision.recorded_at >= since, Decision.superseded_at.is_(None))
             .order_by(Decision.recorded_at, Decision.id))
    rows = (await session.execute(query)).all()
    lines = [{"referentie": ref, "team": team_name(services.org, team), "q1": q1, "q3": q3,
              "op": at} for ref, team, q1, q3, at in rows[:DIGEST_LIST]]
    return {"totaal": len(rows), "casussen": lines, "meer": len(rows) - len(lines)}
