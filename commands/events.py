"""The case history: every step is an event with actor and time (never personal data)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Case, Event


def record(
    session: AsyncSession, case: Case | None, kind: str, actor_id: str | None, at: datetime,
    **data: Any,
) -> Event:
    event = Event(case_id=case.id if case else None, kind=kind, actor_id=actor_id, at=at, data=data)
    session.add(event)
    return event
