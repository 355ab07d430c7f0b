"""The bench's fake Slack answers a wait with the first matching call since the given time,
and only looks at what was logged since then (the bench's figures depend on it; its speed is
measured by `make bench`)."""

from __future__ import annotations

import asyncio
import time

from bench.fakeapi import BenchSlack
from tests.fakeslack import Call


async def test_a_wait_finds_the_first_matching_call_since_its_start() -> None:
    fake = BenchSlack()
    fake._notify(Call("chat.update", {"text": "RT-1 U1"}, at=time.monotonic()))
    after = time.monotonic()
    first = Call("chat.update", {"text": "RT-1 U1 U2"}, at=time.monotonic())
    fake._notify(Call("views.open", {"trigger_id": "RT-1 U1"}, at=time.monotonic()))
    fake._notify(first)
    fake._notify(Call("chat.update", {"text": "RT-1 U1 U2 U3"}, at=time.monotonic()))

    assert await fake.wait("chat.update", ["RT-1", "U1"], after, within=1) == first.at
    assert fake.index["chat.update"][0][1] < after  # the older one is there, and not taken


async def test_a_wait_for_a_call_still_to_come_is_answered_when_it_arrives() -> None:
    fake = BenchSlack()
    after = time.monotonic()
    waiting = asyncio.ensure_future(fake.wait("views.open", ["T1"], after, within=5))
    await asyncio.sleep(0)  # one turn of the loop: the task runs up to its wait (an order, not a time)
    assert fake.waiters
    call = Call("views.open", {"trigger_id": "T1"}, at=time.monotonic())
    fake._notify(call)
    assert await waiting == call.at
