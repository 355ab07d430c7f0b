"""Remember which Slack deliveries were handled, so retries and double clicks do nothing twice."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from commands.context import Services
from store.models import ProcessedRequest

KEY_LENGTH = 160


def request_key(*parts: str) -> str:
    return ":".join(["slack", *parts])[:KEY_LENGTH]


async def claim(services: Services, key: str) -> bool:
    """Record `key` as handled; False when it was handled before (by this or another process)."""
    try:
        async with services.transaction() as session:
            session.add(ProcessedRequest(key=key, at=services.now()))
    except IntegrityError:
        return False
    return True

