"""Buttons: a registry from action name to the command that handles it.

Adapters do not need to know each button: a click on `Action(name, value)` becomes
`await perform(services, member, name, value)`. Modules register their handlers with
`@action("name")`; the modules listed in ACTION_MODULES are imported on first use.
Buttons that open a form (a modal, a conversation) are handled by the adapter itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from commands.context import Services
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


def action(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _REGISTRY[name] = handler
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
    return await handler(services, member, value)
