"""Buttons: a registry from action name to the command that handles it.

Adapters do not need to know each button: a click on `Action(name, value)` becomes
`await perform(services, member, name, value)`. Modules register their handlers with
`@action("name")`; the modules listed in ACTION_MODULES are imported on first use.
Buttons that open a form (a modal, a conversation) are handled by the adapter itself.

A click that comes with a delivery key (`Services.request.key`) is done once: a handler
registered with `records_key=True` stores the key in its own transaction, with its change
(`commands.dedupe.record_handled`); for the others it is recorded before they run. A
repeated delivery raises `commands.dedupe.Repeated`.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from commands.context import Services
from commands.dedupe import Repeated, first_time
from commands.organisation import Member
from commands.replies import CommandRefused, Result

Handler = Callable[[Services, Member, str], Awaitable[Result]]
ACTION_MODULES: tuple[str, ...] = (
    "commands.agenda",
    "commands.status",
    "commands.stemmen",
    "commands.gegevens",
    "commands.toelichting",
    "commands.reminders.answers",
)
_REGISTRY: dict[str, Handler] = {}
_RECORDING_KEY: set[str] = set()  # handlers that record the delivery key themselves


def action(name: str, *, records_key: bool = False) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _REGISTRY[name] = handler
        if records_key:
            _RECORDING_KEY.add(name)
        return handler

    return register


def _load() -> None:
    for module in ACTION_MODULES:
        importlib.import_module(module)


def known_actions() -> set[str]:
    _load()
    return set(_REGISTRY)


async def perform(services: Services, member: Member, name: str, value: str) -> Result:
    _load()
    handler = _REGISTRY.get(name)
    if handler is None:
        raise CommandRefused("fout/onbekende_knop")
    key = services.request.key
    if key is not None and name not in _RECORDING_KEY and not await first_time(services, key):
        raise Repeated
    return await handler(services, member, value)
