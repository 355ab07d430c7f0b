"""Keeping the database lean: delivery bookkeeping is only needed for a short while."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ProcessedRequest

PROCESSED_REQUESTS_KEPT = timedelta(days=30)  # platforms retry within minutes, not weeks


async def forget_old_deliveries(session: AsyncSession, now: datetime) -> int:
    """Remove de-duplication rows of platform deliveries older than 30 days."""
    result = await session.execute(
        delete(ProcessedRequest).where(ProcessedRequest.at < now - PROCESSED_REQUESTS_KEPT))
    return int(getattr(result, "rowcount", 0) or 0)
