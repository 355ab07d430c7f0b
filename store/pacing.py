"""Posting slots per platform channel, reserved in the database.

Slack allows about one message per second per channel. Each bot process used to keep its own
pace, so two replicas together posted twice as fast. `reserve_slot` hands out the next free
moment of a channel under a row lock (PostgreSQL `SELECT … FOR UPDATE`), so all processes
share one pace. Within one process the caller serialises per channel (SQLite has no row locks,
and is single-process).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ChannelPace


async def reserve_slot(session: AsyncSession, platform: str, channel: str, now: datetime,
                       pace: timedelta) -> datetime:
    """The moment this caller may post to `channel` (now or later); the slot after it is
    left for the next caller. `now` is wall-clock UTC."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(ChannelPace).values(
        platform=platform, channel=channel, next_post_at=now).on_conflict_do_nothing())
    row = await session.scalar(select(ChannelPace).where(
        ChannelPace.platform == platform, ChannelPace.channel == channel).with_for_update())
    assert row is not None
    booked = row.next_post_at if row.next_post_at.tzinfo else row.next_post_at.replace(tzinfo=now.tzinfo)
    slot = max(now, booked)
    row.next_post_at = slot + pace
    return slot
