"""Where a case lives on a platform: the message that starts its thread (or its forum topic)
and messages that are edited in place (a tally, an agenda). One record per platform, purpose
and object, shared by every door and every bot process."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from commands.context import Services
from store.models import Case, ThreadRef

CASE_THREAD = "case_thread"


@dataclass(frozen=True)
class ThreadPlace:
    """A posted message: its chat or channel, its id there, and the thread it sits in."""

    channel: str
    message_ref: str
    thread_ref: str | None = None


def split_update_key(key: str | None) -> tuple[str | None, int | None]:
    """`tally:7` → ("tally", 7): what a message edited in place is about; (None, None) when
    the key is missing or not of that shape."""
    if not key or ":" not in key:
        return None, None
    purpose, _, raw_id = key.partition(":")
    try:
        return purpose[:24], int(raw_id)
    except ValueError:
        return None, None


async def find_place(
    services: Services, platform: str, purpose: str, object_id: int
) -> ThreadPlace | None:
    async with services.sessions() as session:
        row = await session.scalar(select(ThreadRef).where(
            ThreadRef.platform == platform, ThreadRef.purpose == purpose,
            ThreadRef.object_id == object_id,
        ))
        return ThreadPlace(row.channel, row.message_ref, row.thread_ref) if row else None


async def record_place(
    services: Services, platform: str, purpose: str, object_id: int, place: ThreadPlace, *,
    move: bool = False,
) -> bool:
    """Remember where the message was posted. An existing record stays, unless `move` (the
    message was posted anew: a kept thread part is not lost). False when another process
    recorded it first."""
    try:
        async with services.transaction() as session:
            row = await session.scalar(select(ThreadRef).where(
                ThreadRef.platform == platform, ThreadRef.purpose == purpose,
                ThreadRef.object_id == object_id,
            ))
            if row is None:
                session.add(ThreadRef(
                    platform=platform, purpose=purpose, object_id=object_id,
                    channel=place.channel, message_ref=place.message_ref,
                    thread_ref=place.thread_ref))
                return True
            if not move:
                return False
            row.channel, row.message_ref = place.channel, place.message_ref
            row.thread_ref = place.thread_ref if place.thread_ref is not None else row.thread_ref
            return True
    except IntegrityError:  # the same record was written at the same moment by another process
        return False


async def case_reference(services: Services, case_id: int) -> str | None:
    """The reference (RT-…) of a case, to name its thread or topic."""
    async with services.sessions() as session:
        return await session.scalar(select(Case.reference).where(Case.id == case_id))


async def case_regieteam(
    services: Services, *, case_id: int | None = None, reference: str | None = None
) -> str | None:
    """The Regieteam a case belongs to, by id or by reference."""
    if case_id is not None:
        query = select(Case.regieteam_id).where(Case.id == case_id)
    elif reference is not None:
        query = select(Case.regieteam_id).where(Case.reference == reference)
    else:
        return None
    async with services.sessions() as session:
        return await session.scalar(query)


async def case_at(
    services: Services, platform: str, channel: str, message_ref: str,
    thread_ref: str | None = None,
) -> str | None:
    """The reference of the case whose thread holds this message: the message that starts
    the thread, or any message in it (`thread_ref`, the thread it sits in). None when the
    message is not about a case."""
    refs = [ref for ref in (message_ref, thread_ref) if ref]
    if not channel or not refs:
        return None
    async with services.sessions() as session:
        return await session.scalar(
            select(Case.reference)
            .join(ThreadRef, ThreadRef.object_id == Case.id)
            .where(ThreadRef.platform == platform, ThreadRef.purpose == CASE_THREAD,
                   ThreadRef.channel == channel,
                   or_(ThreadRef.message_ref.in_(refs), ThreadRef.thread_ref.in_(refs)))
            .order_by(ThreadRef.id.desc())
            .limit(1))
