"""Work that goes on after a request was answered.

Bolt acknowledges Slack within three seconds and runs the rest of a listener afterwards, in a
task of its own. `InFlight` counts those listeners, so that shutdown (and a test) can wait
until the work that was started has finished, instead of guessing from a quiet moment.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class InFlight:
    def __init__(self) -> None:
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def running(self) -> int:
        return self._running

    def tracked(self, listener: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        """Wrap a listener so that it counts as in flight while it runs. The wrapper keeps the
        listener's signature, which Bolt reads to decide which arguments to pass."""

        @functools.wraps(listener)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            self._running += 1
            self._idle.clear()
            try:
                return await listener(*args, **kwargs)
            finally:
                self._running -= 1
                if self._running == 0:
                    self._idle.set()

        return run

    async def idle(self, within: float | None = None) -> None:
        """Return once no tracked listener runs (raises TimeoutError after `within` seconds)."""
        await asyncio.wait_for(self._idle.wait(), within)

