"""What the Telegram adapter keeps in the database: handled updates, forms in progress,
where case threads and edited-in-place messages live, and long button values.

Every function opens one short transaction; none is held across a Telegram call.
"""

from __future__ import annotations

from typing import Any

from commands import dedupe, drafts
from commands.context import Services
from commands.threads import ThreadPlace, find_place, record_place

PLATFORM = "telegram"


async def first_time(services: Services, key: str) -> bool:
    """Record `key` as handled; False when it was handled before (a repeated update or tap)."""
    return await dedupe.first_time(services, dedupe.request_key(PLATFORM, key))


async def forget_old_requests(services: Services) -> None:
    """The records of handled updates follow the one retention policy of every platform."""
    await dedupe.forget_handled(services)


async def forget_abandoned_drafts(services: Services) -> None:
    """Forms and conversations left alone for a month hold personal data for nothing: drop."""
    await drafts.forget_abandoned_drafts(services, PLATFORM, ("melding", "gesprek"))


# --- drafts (forms and short conversations in progress; encrypted) ---------------------------


async def load_draft(services: Services, key: str) -> dict[str, Any] | None:
    return await drafts.load_draft(services, PLATFORM, key)


async def save_draft(services: Services, key: str, data: dict[str, Any]) -> None:
    await drafts.save_draft(services, PLATFORM, key, data)


async def delete_draft(services: Services, key: str) -> bool:
    return await drafts.delete_draft(services, PLATFORM, key)


# --- long button values ----------------------------------------------------------------------


async def store_button(services: Services, name: str, value: str) -> str:
    """Keep a button's name and value under a short key (for values over 64 bytes)."""
    return await drafts.store_long_value(services, PLATFORM, name, value)


async def load_button(services: Services, digest: str) -> tuple[str, str] | None:
    return await drafts.load_long_value(services, PLATFORM, digest)


# --- thread and message references -----------------------------------------------------------


async def thread_ref(services: Services, purpose: str, object_id: int) -> ThreadPlace | None:
    return await find_place(services, PLATFORM, purpose, object_id)


async def save_thread_ref(
    services: Services, purpose: str, object_id: int, channel: int, message_id: int,
    thread_id: int | None,
) -> None:
    """Create or move the reference (one per platform, purpose and object)."""
    await record_place(services, PLATFORM, purpose, object_id,
                       ThreadPlace(str(channel), str(message_id),
                                   str(thread_id) if thread_id is not None else None), move=True)
