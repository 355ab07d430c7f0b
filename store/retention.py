"""Keeping only what is needed: delivery bookkeeping for a short while, household data until
the retention period after closing (and after the last nazorg check) has passed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Case, NazorgCheck, ProcessedRequest

PROCESSED_REQUESTS_KEPT = timedelta(days=30)  # platforms retry within minutes, not weeks


async def forget_old_deliveries(session: AsyncSession, now: datetime) -> int:
    """Remove de-duplication rows of platform deliveries older than 30 days."""
    result = await session.execute(
        delete(ProcessedRequest).where(ProcessedRequest.at < now - PROCESSED_REQUESTS_KEPT))
    return int(getattr(result, "rowcount", 0) or 0)


# --- retention of household data -------------------------------------------------------------


@dataclass(frozen=True)
class ClosedCase:
    """A closed case not yet erased, with what decides when its retention period starts."""

    case_id: int
    reference: str
    closed_at: datetime
    last_nazorg_due: date | None
    last_nazorg_answered: datetime | None


async def closed_cases_not_erased(session: AsyncSession, closed_before: datetime) -> list[ClosedCase]:
    """Closed cases closed before the given moment whose data has not been erased."""
    cases = (await session.execute(
        select(Case.id, Case.reference, Case.closed_at)
        .where(Case.closed_at.is_not(None), Case.closed_at < closed_before, Case.erased_at.is_(None))
        .order_by(Case.closed_at, Case.id))).all()
    if not cases:
        return []
    nazorg: dict[int, tuple[date | None, datetime | None]] = {}
    ids = [row.id for row in cases]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for case_id, due, answered in (await session.execute(
                select(NazorgCheck.case_id, func.max(NazorgCheck.due_date),
                       func.max(NazorgCheck.answered_at))
                .where(NazorgCheck.case_id.in_(chunk)).group_by(NazorgCheck.case_id))).all():
            nazorg[case_id] = (due, answered)
    return [ClosedCase(row.id, row.reference, row.closed_at, *nazorg.get(row.id, (None, None)))
            for row in cases]
