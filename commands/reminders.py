"""Reminders for a case (owned by the reminders work; see issue 6)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from commands.context import Services
from store.models import Case


async def sync_case_reminders(session: AsyncSession, services: Services, case: Case) -> None:
    """Create, reschedule or cancel the reminder rows that follow from the case's state."""
    return None
