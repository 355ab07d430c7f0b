"""What the Telegram adapter keeps in the database: handled updates, forms in progress,
where case threads and edited-in-place messages live, and long button values.

Every function opens one short transaction; none is held across a Telegram call.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from commands import dedupe
from commands.context import Services
from commands.threads import ThreadPlace, find_place, record_place
from store.crypto import DecryptionFailed
from store.models import FormDraft

PLATFORM = "telegram"
log = logging.getLogger(__name__)


async def first_time(services: Services, key: str) -> bool:
    """Record `key` as handled; False when it was handled before (a repeated update or tap)."""
    return await dedupe.first_time(services, dedupe.request_key(PLATFORM, key))


async def forget_old_requests(services: Services) -> None:
    """The records of handled updates follow the one retention policy of every platform."""
    await dedupe.forget_handled(services)


async def forget_abandoned_drafts(services: Services, days: int = 30) -> None:
    """Forms and conversations left alone for a month hold personal data for nothing: drop."""
    cutoff = services.now() - timedelta(days=days)
    async with services.transaction() as session:
        for kind in ("melding", "gesprek"):
            await session.execute(delete(FormDraft).where(
                FormDraft.key.like(f"{PLATFORM}:{kind}:%"), FormDraft.updated_at < cutoff))


# --- drafts (forms and short conversations in progress; encrypted) ---------------------------


async def load_draft(services: Services, key: str) -> dict[str, Any] | None:
    async with services.transaction() as session:
        row = await session.get(FormDraft, f"{PLATFORM}:{key}")
        if row is None:
            return None
        try:
            data: dict[str, Any] = services.cipher.decrypt_json(row.data)
        except DecryptionFailed:  # written with a key that was removed: start afresh
            log.warning("concept %s is niet te ontsleutelen en wordt genegeerd", key.split(":")[0])
            return None
        return data


async def save_draft(services: Services, key: str, data: dict[str, Any]) -> None:
    full_key = f"{PLATFORM}:{key}"
    payload = services.cipher.encrypt_json(data)
    async with services.transaction() as session:
        row = await session.get(FormDraft, full_key)
        if row is None:
            session.add(FormDraft(key=full_key, data=payload, updated_at=services.now()))
        else:
            row.data, row.updated_at = payload, services.now()


async def delete_draft(services: Services, key: str) -> bool:
    async with services.transaction() as session:
        result = await session.execute(delete(FormDraft).where(FormDraft.key == f"{PLATFORM}:{key}"))
        return bool(getattr(result, "rowcount", 0))


# --- long button values ----------------------------------------------------------------------


async def store_button(services: Services, name: str, value: str) -> str:
    """Keep a button's name and value under a short key (for values over 64 bytes)."""
    digest = hashlib.sha256(f"{name}\x00{value}".encode()).hexdigest()[:20]
    key = f"knop:{digest}"
    if await load_draft(services, key) is None:
        with contextlib.suppress(IntegrityError):
            await save_draft(services, key, {"name": name, "value": value})
    return digest


async def load_button(services: Services, digest: str) -> tuple[str, str] | None:
    data = await load_draft(services, f"knop:{digest}")
    if data is None:
        return None
    return str(data["name"]), str(data["value"])


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
