"""Delivering claimed messages: one queue per destination, several destinations at once.

Both the outbox (`commands.outbox`) and the reminders (`commands.reminders.dispatch`) claim rows
in the database and hand them here. Each destination (a channel, a member's chat) gets one
worker that sends its messages in order; the workers run side by side under one bound. A
channel that is rate limited or answers slowly holds up only itself: the platform's
Retry-After is honoured by its courier, inside that channel's worker.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from datetime import timedelta
from typing import TypeVar

T = TypeVar("T")

CLAIM_TIMEOUT = timedelta(minutes=15)  # a claim older than this (crashed worker) is taken over
MAX_ATTEMPTS = 6  # then the message is given up and the coordinators are told
WORKERS = 32  # destinations served at the same time


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8, 16 … minutes after the n-th failure, at most an hour."""
    return min(timedelta(minutes=2 ** max(0, attempts - 1)), timedelta(hours=1))


async def per_destination(
    items: Iterable[T], destination: Callable[[T], Hashable],
    send: Callable[[T], Awaitable[bool | None]], *, workers: int = WORKERS,
    after_failure: Callable[[list[T]], Awaitable[None]] | None = None,
    more: Callable[[Hashable], Awaitable[list[T]]] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Send `items` with one worker per destination (in the given order within each), at most
    `workers` destinations at a time. `send` records its own outcome and does not raise; it
    returns False when the item was not delivered. With `after_failure`, a destination's
    worker then stops and hands it the items it did not try, so that they keep their order.
    With `more`, a worker that has sent its items asks for the next ones of its destination,
    so a busy or slow channel never makes the others wait for the end of a batch. Once
    `should_stop` says so, each worker stops before its next item (a stopping bot does not
    wait for a paced channel's queue), handing the untried items to `after_failure`."""
    queues: defaultdict[Hashable, list[T]] = defaultdict(list)
    for item in items:
        queues[destination(item)].append(item)
    bound = asyncio.Semaphore(workers)

    async def serve(where: Hashable, queue: list[T]) -> None:
        async with bound:
            while queue:
                for n, item in enumerate(queue):
                    if should_stop():
                        if after_failure is not None:
                            await after_failure(queue[n:])
                        return
                    if await send(item) is False and after_failure is not None:
                        if queue[n + 1:]:
                            await after_failure(queue[n + 1:])
                        return
                queue = await more(where) if more is not None else []

    await asyncio.gather(*(serve(where, queue) for where, queue in queues.items()))
