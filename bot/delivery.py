"""Delivery of neutral messages to platforms.

Each adapter (console, Slack, Telegram) is a `Courier` (the interface lives in the core,
`commands.courier`). The bot process holds one `Deliveries` that hands every `Outgoing` to
all couriers that can reach its destination (a Regieteam channel can exist on Slack and
Telegram at once).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Iterable

from commands import outbox
from commands.context import Services
from commands.courier import Courier, DeliveryFailed, NoRoute
from commands.replies import Outgoing

__all__ = ["Courier", "Deliveries", "DeliveryFailed", "NoRoute", "Sending", "worker_id"]

log = logging.getLogger(__name__)
Sending = outbox.Sending


def worker_id() -> str:
    """This process, as it signs its claims on messages and reminders."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Deliveries:
    def __init__(self, couriers: Iterable[Courier] = ()) -> None:
        self.couriers: list[Courier] = list(couriers)
        self.worker_id = worker_id()
        self._trailing: set[str] = set()  # update keys whose latest edit waits for its window
        self._sending: dict[str, asyncio.Event] = {}  # update key → the edit being sent now

    async def send(self, services: Services, items: Iterable[Outgoing]) -> Sending:
        """Send a command's messages through the outbox: those the command did not queue in
        its own transaction are queued first, then all are sent now. What cannot be sent
        now stays in the outbox for the dispatcher (`commands.outbox`)."""
        items = list(items)
        if not items:
            return Sending()
        if any(item.outbox_id is None for item in items):
            async with services.transaction() as session:
                items = await outbox.queue(session, services, items)
        edits = [item for item in items if outbox.coalesces(item.update_key)]
        now = [item for item in items if item not in edits]
        sending = await outbox.send_now(services, self, self.worker_id, now)
        for edit in edits:
            sending += await self._send_edit(services, edit)
        return sending

    async def _send_edit(self, services: Services, item: Outgoing) -> Sending:
        """Edits of one message (a tally) in quick succession: an edit is sent at once, unless
        one is being sent. Then it waits for that one, and of all that waited only the latest
        version is sent (it replaces the older waiting ones, and a tally is made afresh just
        before it is sent): many votes at once give two edits, not many, and a vote on a quiet
        tally shows without delay."""
        key = str(item.update_key)
        if key in self._trailing:
            return Sending(waiting=1)  # the request that waits already sends the latest
        sending = self._sending.get(key)
        trails = False
        if sending is not None and not sending.is_set():
            trails = True
            self._trailing.add(key)
            try:
                await sending.wait()
            except BaseException:
                self._trailing.discard(key)
                raise
        done = self._sending[key] = asyncio.Event()  # before any await: later edits wait
        self._trailing.discard(key)
        try:
            if trails:
                return await outbox.send_latest(services, self, self.worker_id, key)
            return await outbox.send_now(services, self, self.worker_id, [item])
        finally:
            done.set()
            if self._sending.get(key) is done:
                del self._sending[key]

    def add(self, courier: Courier) -> None:
        self.couriers.append(courier)

    async def deliver(self, item: Outgoing) -> int:
        """Deliver to every courier that can reach the destination; return how many did.

        Raises DeliveryFailed when a courier failed, NoRoute when none could reach it."""
        reached, failures = 0, []
        for courier in self.couriers:
            if item.platform not in (None, courier.platform) or not courier.can_reach(item):
                continue
            try:
                await courier.deliver(item)
                reached += 1
            except DeliveryFailed as exc:
                said = str(exc)
                failures.append(said if said.startswith(f"{courier.platform}:")
                                else f"{courier.platform}: {said}")
        if failures:
            raise DeliveryFailed("; ".join(failures))
        if reached == 0:
            log.warning("geen route voor %s %s", item.to.kind, item.to.id)
            raise NoRoute(f"geen kanaal voor {item.to.kind} {item.to.id}")
        return reached
