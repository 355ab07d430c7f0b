"""Delivery of neutral messages to platforms.

Each adapter (console, Slack, Telegram) is a `Courier` (the interface lives in the core,
`commands.courier`). The bot process holds one `Deliveries` that hands every `Outgoing` to
all couriers that can reach its destination (a Regieteam channel can exist on Slack and
Telegram at once).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from commands.courier import Courier, DeliveryFailed
from commands.replies import Outgoing

__all__ = ["Courier", "Deliveries", "DeliveryFailed", "NoRoute"]

log = logging.getLogger(__name__)


class NoRoute(DeliveryFailed):
    """No platform knows where this destination is."""


class Deliveries:
    def __init__(self, couriers: Iterable[Courier] = ()) -> None:
        self.couriers: list[Courier] = list(couriers)

    def add(self, courier: Courier) -> None:
        self.couriers.append(courier)

    async def deliver(self, item: Outgoing) -> int:
        """Deliver to every courier that can reach the destination; return how many did.

        Raises DeliveryFailed when a courier failed, NoRoute when none could reach it."""
        reached, failures = 0, []
        for courier in self.couriers:
            if not courier.can_reach(item):
                continue
            try:
                await courier.deliver(item)
                reached += 1
            except DeliveryFailed as exc:
                failures.append(f"{courier.platform}: {exc}")
        if failures:
            raise DeliveryFailed("; ".join(failures))
        if reached == 0:
            log.warning("geen route voor %s %s", item.to.kind, item.to.id)
            raise NoRoute(f"geen kanaal voor {item.to.kind} {item.to.id}")
        return reached

    async def deliver_all(self, items: Iterable[Outgoing]) -> None:
        """Deliver each item; one failing destination does not stop the others."""
        for item in items:
            try:
                await self.deliver(item)
            except DeliveryFailed:
                log.exception("bezorgen mislukt naar %s %s", item.to.kind, item.to.id)
