"""A lock on a name, shared by all bot processes on one PostgreSQL database.

Used where a process checks whether something exists on a platform and creates it when not
(the first post of a message that is updated afterwards): two replicas doing that at the same
time would both create it. The lock is a transaction-level advisory lock, so it ends with the
transaction, also when the process dies. SQLite is one process: no lock is needed there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# The two-number form of the advisory lock: its own key space, apart from the one-number lock
# of the scheduler leader.
NAMED_LOCKS = 0x4E616D  # "Nam"


@asynccontextmanager
async def named_lock(sessions: async_sessionmaker[AsyncSession],
                     name: str) -> AsyncIterator[AsyncSession | None]:
    """Hold the lock on `name` for the block; other processes wait for it. On PostgreSQL the
    block gets the session that holds the lock, in its transaction: what must be read under
    the lock can be read there, without a connection and a transaction of its own (read
    committed: each statement sees what was committed before it). On SQLite: None."""
    async with sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            yield None
            return
        async with session.begin():
            await session.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:name))"),
                                  {"space": NAMED_LOCKS, "name": name})
            yield session
