"""The Courier interface: how the core hands a neutral `Outgoing` to a platform.

Each adapter (console, Slack, Telegram) implements `Courier`; the bot process bundles them
(`bot.delivery.Deliveries`). A use case that sends messages itself, such as the reminder
dispatch, only needs something with `deliver` (a `Sender`): one courier or all of them.
"""

from __future__ import annotations

from typing import Protocol

from commands.replies import Outgoing


class DeliveryFailed(RuntimeError):
    """A platform did not accept a message (error answer, rate limit, network)."""


class NoRoute(DeliveryFailed):
    """No platform knows where this destination is."""


class Courier(Protocol):
    platform: str

    def can_reach(self, item: Outgoing) -> bool:
        """True when this platform has a channel or user for the destination."""
        ...

    async def deliver(self, item: Outgoing) -> None:
        """Post (or update in place) the message; raise DeliveryFailed when it did not arrive."""
        ...


class Sender(Protocol):
    async def deliver(self, item: Outgoing) -> object:
        """Deliver the message; raise DeliveryFailed when it did not arrive."""
        ...
