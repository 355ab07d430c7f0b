"""Remember which Slack deliveries were handled, so retries and double clicks do nothing twice
(the records live in `commands.dedupe`, shared with every platform)."""

from __future__ import annotations

from commands import dedupe
from commands.context import Services

PLATFORM = "slack"


def request_key(*parts: str) -> str:
    return dedupe.request_key(PLATFORM, *parts)


async def claim(services: Services, key: str) -> bool:
    """Record `key` as handled; False when it was handled before (by this or another process)."""
    return await dedupe.first_time(services, key)
