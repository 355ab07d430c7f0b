"""Forms in the console: the walker's questions printed one at a time, the answers read from
the next line. `/terug` goes one question back, `/annuleer` stops. The casusformulier ends
with a summary: `ja` files it, a field's name asks that question again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from commands.forms import FORMS, choice_names
from commands.melding import FormField
from commands.replies import CommandRefused, FormInvalid, Message, Result
from commands.walker import Walker
from messages.labels import choice_labels, shown_answer
from messages.render import renderer

if TYPE_CHECKING:
    from bot.console.chat import ConsoleChat

SUBMIT = ("ja", "j", "indienen")


async def walk_form(chat: ConsoleChat, name: str, value: str = "",
                    values: Mapping[str, Any] | None = None) -> Result | None:
    """Ask form `name` for `value` (a reference, a reminder id; "" for the melding) in the
    console, with `values` already answered, and return what its use case answers; None when
    stopped. Raises CommandRefused when the member may not fill it in."""
    walker = await Walker.start(chat.services, chat.member, name, value, dict(values or {}))
    chat.say(_opening(name, value))
    while True:
        form_field = walker.current()
        if form_field is None:
            if FORMS[name].summary:
                problems = walker.check_all()
                if problems:
                    for problem in problems:
                        chat.say(problem)
                    if walker.current() is None:
                        return None
                    continue
                chat.say(_summary(chat, walker))
                chat.say(Message("console/indienen"))
                reply = (await chat.read_line() or "/annuleer").strip().lower()
                if reply == "/annuleer":
                    chat.say(_stopped(name))
                    return None
                if reply not in SUBMIT:
                    if walker.field(reply) is not None:
                        walker.go_to(reply)
                    continue
            try:
                return await walker.submit()
            except FormInvalid as invalid:
                for message in invalid.errors.values():
                    chat.say(message)
                if walker.current() is None:
                    return None
                continue
            except CommandRefused as refused:
                chat.say(refused.message)
                if walker.stops(refused):
                    return None
                continue
        labels = _labels(chat, name, walker, form_field)
        chat.say(_question(name, walker, form_field, labels))
        line = await chat.read_line()
        if line is None or line.strip() == "/annuleer":
            chat.say(_stopped(name))
            return None
        if line.strip() == "/terug":
            if not walker.back():
                chat.say(Message("formulier/eerste_vraag"))
            continue
        wrong = walker.answer(walker.interpret(line.strip(), labels))
        if wrong is not None:
            chat.say(wrong)


def _opening(name: str, value: str) -> Message:
    if name == "melding":
        return Message("melding/start")
    return Message("formulier/start", {
        "formulier": name, "referentie": value if value.upper().startswith("RT-") else None})


def _stopped(name: str) -> Message:
    return Message("melding/geannuleerd" if name == "melding" else "formulier/gestopt")


def _labels(chat: ConsoleChat, name: str, walker: Walker, form_field: FormField) -> dict[str, str]:
    names = choice_names(chat.services, name, form_field.name)
    return choice_labels(name, form_field.name, walker.choices(form_field), names)


def _question(name: str, walker: Walker, form_field: FormField,
              labels: dict[str, str]) -> Message:
    shown = labels if form_field.kind in ("choice", "multichoice") else {}
    if name == "melding":  # its fields have a label and a hint of their own (labels.j2)
        return Message("melding/vraag", {"veld": form_field.name,
                                         "verplicht": form_field.required, "keuzes": shown})
    plain = renderer("plain")
    typed = walker.typed(form_field.name)
    return Message("formulier/vraag", {
        "vraag": plain.label(f"vraag.{name}.{form_field.name}"),
        "uitleg": plain.label(f"uitleg.{name}.{form_field.name}"),
        "verplicht": form_field.required, "keuzes": shown,
        "meer": form_field.kind == "multichoice",
        "getypt": ", ".join(typed) if isinstance(typed, list) else typed})


def _summary(chat: ConsoleChat, walker: Walker) -> Message:
    name = walker.form.name
    lines = [{"label": renderer("plain").label(f"veld.{f.name}"),
              "waarde": shown_answer(name, f.name, f.kind, answer,
                                     choice_names(chat.services, name, f.name))}
             for f, answer in walker.summary()]
    return Message("melding/samenvatting", {"regels": lines})


__all__ = ["walk_form"]
