"""Doing things once: platforms redeliver (Slack retries events, Telegram repeats updates,
members double-click), so every door records what it handled, in one table, under one
retention policy (`store.retention.forget_old_deliveries`: 30 days, every platform)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from commands.context import Services
from store.models import ProcessedRequest
from store.retention import forget_old_deliveries

KEY_LENGTH = 160
T = TypeVar("T")


def request_key(platform: str, *parts: str) -> str:
    """The key of one delivery: the platform, then what identifies it there."""
    return ":".join([platform, *parts])[:KEY_LENGTH]


class Repeated(Exception):
    """This delivery of a request was handled before: there is nothing to do again."""


async def first_time(services: Services, key: str) -> bool:
    """Record `key` as handled; False when it was handled before (by this or another process)."""
    try:
        async with services.transaction() as session:
            await record_key(session, services, key)
    except Repeated:
        return False
    return True


async def record_handled(session: AsyncSession, services: Services) -> None:
    """Record the request's delivery key (`Services.request.key`) in the command's own
    transaction, so that the change and the record that it was made are stored together.
    Raises Repeated when the key was recorded before; the caller's transaction then rolls back."""
    if services.request.key is not None:
        await record_key(session, services, services.request.key)


async def record_key(session: AsyncSession, services: Services, key: str) -> None:
    """Record `key` as handled in the caller's transaction; Repeated when it was before."""
    session.add(ProcessedRequest(key=key[:KEY_LENGTH], at=services.now()))
    try:
        await session.flush()
    except IntegrityError:
        raise Repeated from None


async def forget_handled(services: Services) -> int:
    """Drop the records of deliveries older than the retention period; how many went."""
    async with services.transaction() as session:
        return await forget_old_deliveries(session, services.now())


async def once(store: Callable[[], Awaitable[T]]) -> T:
    """Run a write that is keyed on a unique submission key. When the same submission is being
    stored at this very moment (a platform retry racing the first delivery), the loser's insert
    fails on the key; the second run then finds and returns what the winner stored."""
    try:
        return await store()
    except IntegrityError:
        return await store()
