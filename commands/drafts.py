"""Forms and short conversations in progress, kept per door in the database (encrypted: a
half-filled casusformulier holds the household's name and address), so a walk survives a
restart or another replica taking over. Every function opens one short transaction."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from commands.context import Services
from store.crypto import DecryptionFailed
from store.models import FormDraft

log = logging.getLogger(__name__)
ABANDONED_AFTER = timedelta(days=30)


async def load_draft(services: Services, door: str, key: str) -> dict[str, Any] | None:
    async with services.transaction() as session:
        row = await session.get(FormDraft, f"{door}:{key}")
        if row is None:
            return None
        try:
            data: dict[str, Any] = services.cipher.decrypt_json(row.data)
        except DecryptionFailed:  # written with a key that was removed: start afresh
            log.warning("concept %s is niet te ontsleutelen en wordt genegeerd", key.split(":")[0])
            return None
        return data


async def save_draft(services: Services, door: str, key: str, data: dict[str, Any]) -> None:
    full_key = f"{door}:{key}"
    payload = services.cipher.encrypt_json(data)
    async with services.transaction() as session:
        row = await session.get(FormDraft, full_key)
        if row is None:
            session.add(FormDraft(key=full_key, data=payload, updated_at=services.now()))
        else:
            row.data, row.updated_at = payload, services.now()


async def delete_draft(services: Services, door: str, key: str) -> bool:
    async with services.transaction() as session:
        result = await session.execute(delete(FormDraft).where(FormDraft.key == f"{door}:{key}"))
        return bool(getattr(result, "rowcount", 0))


async def forget_abandoned_drafts(services: Services, door: str, kinds: tuple[str, ...]) -> None:
    """Forms left alone for a month hold personal data for nothing: drop them."""
    cutoff = services.now() - ABANDONED_AFTER
    async with services.transaction() as session:
        for kind in kinds:
            await session.execute(delete(FormDraft).where(
                FormDraft.key.like(f"{door}:{kind}:%"), FormDraft.updated_at < cutoff))


async def store_long_value(services: Services, door: str, name: str, value: str) -> str:
    """Keep a button's name and value under a short key (for doors with a size limit on a
    button's value); returns the key."""
    digest = hashlib.sha256(f"{name}\x00{value}".encode()).hexdigest()[:20]
    key = f"knop:{digest}"
    if await load_draft(services, door, key) is None:
        with contextlib.suppress(IntegrityError):
            await save_draft(services, door, key, {"name": name, "value": value})
    return digest


async def load_long_value(services: Services, door: str, digest: str) -> tuple[str, str] | None:
    data = await load_draft(services, door, f"knop:{digest}")
    if data is None:
        return None
    return str(data["name"]), str(data["value"])
