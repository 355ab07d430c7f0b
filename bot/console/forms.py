"""Case-work forms in the console: the walker's questions printed one at a time, the answers
read from the next line. `/terug` goes one question back, `/annuleer` stops."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from commands.forms import choice_names
from commands.replies import CommandRefused, Message, Result
from commands.walker import Walker
from messages.labels import choice_labels
from messages.render import renderer

if TYPE_CHECKING:
    from bot.console.chat import ConsoleChat


async def walk_form(chat: ConsoleChat, name: str, value: str,
                    values: Mapping[str, Any] | None = None) -> Result | None:
    """Ask form `name` for `value` (a reference, a reminder id) in the console, with `values`
    already answered, and return what its use case answers; None when stopped. Raises
    CommandRefused when the member may not fill it in."""
    walker = await Walker.start(chat.services, chat.member, name, value, dict(values or {}))
    chat.say(Message("formulier/start", {
        "formulier": name, "referentie": value if value.upper().startswith("RT-") else None}))
    while True:
        form_field = walker.current()
        if form_field is None:
            try:
                return await walker.submit()
            except CommandRefused as refused:
                chat.say(refused.message)
                if walker.stops(refused):
                    return None
                continue
        names = choice_names(chat.services, name, form_field.name)
        labels = choice_labels(name, form_field.name, walker.choices(form_field), names)
        plain = renderer("plain")
        typed = walker.typed(form_field.name)
        chat.say(Message("formulier/vraag", {
            "vraag": plain.label(f"vraag.{name}.{form_field.name}"),
            "uitleg": plain.label(f"uitleg.{name}.{form_field.name}"),
            "verplicht": form_field.required, "keuzes": labels,
            "meer": form_field.kind == "multichoice",
            "getypt": ", ".join(typed) if isinstance(typed, list) else typed}))
        line = await chat.read_line()
        if line is None or line.strip() == "/annuleer":
            chat.say(Message("formulier/gestopt"))
            return None
        if line.strip() == "/terug":
            if not walker.back():
                chat.say(Message("formulier/eerste_vraag"))
            continue
        problem = walker.answer(walker.interpret(line.strip(), labels))
        if problem is not None:
            chat.say(problem)


__all__ = ["walk_form"]
