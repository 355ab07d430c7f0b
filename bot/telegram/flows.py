"""Case-work forms as short conversations in the private chat, walked with `commands.walker`.

Choosing the steps (vote on question 2), recording the decision, appointing the casemanager,
giving terugkoppeling, closing a case, correcting the household and postponing a reminder
each open their form from `commands.forms`. The walk in progress is a `FormDraft`, so it
survives a restart. A refusal by the use case (a wrong date, a missing reason) is shown and
the question it concerns is asked again, keeping the other answers.

Button data: "q|<n>|<op>[|<index>]" (`n` counts the questions asked; a tap on an older
question no longer matches).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram import storage
from bot.telegram.courier import TelegramCourier
from commands.context import Services
from commands.forms import CONDITION_PREFIX, choice_names, conditions
from commands.melding import FormField
from commands.organisation import Member
from commands.replies import CommandRefused, Message, Result
from commands.walker import Walker
from messages import telegram as tg
from messages.labels import choice_label
from messages.render import renderer

Respond = Callable[[int, Member, Result], Awaitable[None]]
PREFIX = "q"


@dataclass(frozen=True)
class Flow:
    """A conversation: the button (or command) name, its deep-link letter, and its form."""

    name: str
    code: str  # one letter, for /start deep links
    form: str


def key_for(member: Member) -> str:
    return f"gesprek:{member.id}"


class Conversations:
    def __init__(self, services: Services, courier: TelegramCourier, respond: Respond,
                 flows: Mapping[str, Flow]) -> None:
        self.services = services
        self.courier = courier
        self.respond = respond
        self.flows = flows

    def by_code(self, code: str) -> Flow | None:
        return next((f for f in self.flows.values() if f.code == code), None)

    async def start(self, chat: int, member: Member, name: str, value: str,
                    values: Mapping[str, Any] | None = None) -> None:
        """Begin (or restart) a conversation; raises CommandRefused when not allowed."""
        await self.open_form(chat, member, self.flows[name].form, value, values)

    async def open_form(self, chat: int, member: Member, form: str, value: str,
                        values: Mapping[str, Any] | None = None) -> None:
        """Start form `form` for `value` (a reference or reminder id) in the private chat
        `chat`, with `values` already answered; raises CommandRefused when not allowed."""
        walker = await Walker.start(self.services, member, form, value, dict(values or {}))
        await self.courier.send(chat, Message("telegram/gesprek_start", {
            "gesprek": form, "referentie": value if value.startswith("RT-") else None}))
        await self._ask(chat, walker)

    async def active(self, member: Member) -> bool:
        return await storage.load_draft(self.services, key_for(member)) is not None

    async def cancel(self, chat: int, member: Member) -> bool:
        if not await storage.delete_draft(self.services, key_for(member)):
            return False
        await self.courier.send(chat, Message("telegram/gesprek_gestopt"))
        return True

    async def back(self, chat: int, member: Member) -> bool:
        walker = await self._load(member)
        if walker is None:
            return False
        walker.back()
        await self._ask(chat, walker)
        return True

    async def on_text(self, chat: int, member: Member, text: str) -> bool:
        walker = await self._load(member)
        if walker is None:
            return False
        form_field = walker.current()
        if form_field is None:
            await self._ask(chat, walker)
            return True
        await self._accept(chat, walker, walker.interpret(text, self._labels(walker, form_field)))
        return True

    async def on_button(self, chat: int, member: Member, message_id: int,
                        parts: list[str]) -> str | None:
        walker = await self._load(member)
        if walker is None:
            return tg.plain(Message("telegram/formulier_klaar"))
        if len(parts) < 2 or parts[0] != str(walker.walk["n"]):
            return tg.plain(Message("telegram/knop_verlopen"))
        op, arg = parts[1], (parts[2] if len(parts) > 2 else "")
        form_field = walker.current()
        keys = walker.choices(form_field) if form_field else ()
        if op == "x":
            await self.cancel(chat, member)
        elif form_field is None:
            return tg.plain(Message("telegram/knop_verlopen"))
        elif op == "c" and arg.isdigit() and int(arg) < len(keys):
            await self._accept(chat, walker, keys[int(arg)])
        elif op == "t" and arg.isdigit() and int(arg) < len(keys):
            walker.toggle(keys[int(arg)])
            await storage.save_draft(self.services, key_for(member), walker.walk)
            await self.courier.bot.edit_message_reply_markup(
                chat_id=chat, message_id=message_id, reply_markup=self._keyboard(walker))
        elif op == "k":
            await self._accept(chat, walker, walker.answers.get(form_field.name) or [])
        elif op == "s" and not form_field.required:
            await self._accept(chat, walker, "")
        else:
            return tg.plain(Message("telegram/knop_verlopen"))
        return None

    # --- steps --------------------------------------------------------------------------------

    async def _load(self, member: Member) -> Walker | None:
        walk = await storage.load_draft(self.services, key_for(member))
        if walk is None or "form" not in walk:
            return None
        return Walker(self.services, member, walk)

    async def _accept(self, chat: int, walker: Walker, raw: Any) -> None:
        problem = walker.answer(raw)
        if problem is not None:
            await self.courier.send(chat, problem)
        await self._ask(chat, walker)

    async def _ask(self, chat: int, walker: Walker) -> None:
        form_field = walker.current()
        if form_field is None:
            await self._finish(chat, walker)
            return
        walker.walk["n"] += 1
        await storage.save_draft(self.services, key_for(walker.member), walker.walk)
        await self.courier.send(chat, self._question(walker, form_field),
                                markup=self._keyboard(walker))

    def _question(self, walker: Walker, form_field: FormField) -> Message:
        form = walker.form.name
        if form_field.name.startswith(CONDITION_PREFIX):
            rows = conditions(walker.walk["context"])
            index = next(i for i, (key, _s) in enumerate(rows)
                         if form_field.name == f"{CONDITION_PREFIX}{key}")
            key, state = rows[index]
            html = renderer("html")
            return Message("telegram/voorwaarde_vraag", {
                "nummer": index + 1, "totaal": len(rows), "naam": html.choice(key),
                "stand": html.choice(state), "eerste": index == 0})
        html = renderer("html")
        return Message("telegram/gesprek_vraag", {
            "vraag": html.label(f"vraag.{form}.{form_field.name}"),
            "uitleg": html.label(f"uitleg.{form}.{form_field.name}"),
            "verplicht": form_field.required, "referentie": walker.walk["value"]})

    def _labels(self, walker: Walker, form_field: FormField) -> dict[str, str]:
        names = choice_names(self.services, walker.form.name, form_field.name)
        return {key: choice_label(walker.form.name, form_field.name, key, names)
                for key in walker.choices(form_field)}

    def _keyboard(self, walker: Walker) -> InlineKeyboardMarkup | None:
        form_field = walker.current()
        if form_field is None:
            return None
        n = str(walker.walk["n"])
        labels = self._labels(walker, form_field)
        rows: list[list[InlineKeyboardButton]] = []
        if form_field.kind in ("choice", "yesno"):
            rows = [list(r) for r in tg.rows([tg.button(labels[key], tg.callback_data(
                PREFIX, n, "c", str(i))) for i, key in enumerate(walker.choices(form_field))
            ]).inline_keyboard]
        elif form_field.kind == "multichoice":
            chosen = set(walker.answers.get(form_field.name) or [])
            mark = tg.label("telegram.gekozen")
            rows = [[tg.button(f"{mark} {labels[key]}" if key in chosen else labels[key],
                               tg.callback_data(PREFIX, n, "t", str(i)))]
                    for i, key in enumerate(form_field.choices)]
            rows.append([tg.button(tg.label("telegram.klaar"), tg.callback_data(PREFIX, n, "k"))])
        if not form_field.required:
            rows.append([tg.button(tg.label("telegram.overslaan"),
                                   tg.callback_data(PREFIX, n, "s"))])
        return InlineKeyboardMarkup(rows) if rows else None

    async def _finish(self, chat: int, walker: Walker) -> None:
        try:
            result = await walker.submit(f"telegram:{walker.walk['id']}")
        except CommandRefused as refused:
            await self.courier.send(chat, refused.message)
            if walker.stops(refused):
                await storage.delete_draft(self.services, key_for(walker.member))
                return
            await self._ask(chat, walker)
            return
        await storage.delete_draft(self.services, key_for(walker.member))
        await self.respond(chat, walker.member, result)


__all__ = ["Conversations", "Flow", "key_for"]
