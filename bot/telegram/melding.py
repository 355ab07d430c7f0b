"""/melding in a private chat: the casusformulier step by step, kept in the database.

Walked with `commands.walker` like every other form: one question at a time, with inline
buttons for choices (household categories as toggles with "Klaar"), the same checks as every
other door (`check_field` per answer, then `check_form`), `/terug` and `/annuleer`, and a
summary with "Indienen" / "Aanpassen". The walk in progress is a `FormDraft` (encrypted), so
it survives a restart of the bot.

Button data: "f|<n>|<op>[|<index>]". `n` counts the questions asked; a tap on a button of an
earlier question (or a second tap) no longer matches and changes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.telegram import storage
from bot.telegram.courier import TelegramCourier
from commands.context import Services
from commands.forms import choice_names
from commands.melding import FormField, require_melder
from commands.organisation import Member
from commands.replies import FormInvalid, Message, Result
from commands.walker import Walker
from messages import telegram as tg
from messages.labels import choice_label, shown_answer
from messages.render import renderer

FORM = "melding"
PREFIX = "f"

Respond = Callable[[int, Member, Result], Awaitable[None]]


def draft_key(member: Member) -> str:
    return f"melding:{member.id}"


class MeldingForm:
    """The casusformulier as a conversation in the private chat `chat` with `member`."""

    def __init__(self, services: Services, courier: TelegramCourier, respond: Respond) -> None:
        self.services = services
        self.courier = courier
        self.respond = respond

    # --- entry points -------------------------------------------------------------------------

    async def start(self, chat: int, member: Member) -> None:
        require_melder(self.services.org, member)
        walker = await self._load(member)
        if walker is not None:
            await self._say(chat, "telegram/melding_verder")
            await self._ask_current(chat, walker)
            return
        walker = await Walker.start(self.services, member, FORM, "")
        await self.courier.send(chat, Message("melding/start"))
        await self._ask_current(chat, walker)

    async def active(self, member: Member) -> bool:
        return await storage.load_draft(self.services, draft_key(member)) is not None

    async def cancel(self, chat: int, member: Member) -> bool:
        if not await storage.delete_draft(self.services, draft_key(member)):
            return False
        await self.courier.send(chat, Message("melding/geannuleerd"))
        return True

    async def back(self, chat: int, member: Member) -> bool:
        walker = await self._load(member)
        if walker is None:
            return False
        walker.walk["edit"] = False
        if not walker.back():
            await self._say(chat, "telegram/eerste_vraag")
        await self._ask_current(chat, walker, show_previous=True)
        return True

    async def on_text(self, chat: int, member: Member, text: str) -> bool:
        """An answer typed in the private chat; False when no form is in progress."""
        walker = await self._load(member)
        if walker is None:
            return False
        form_field = walker.current()
        if form_field is None:
            await self._say(chat, "telegram/gebruik_knoppen")
            return True
        await self._accept(chat, walker, walker.interpret(text, self._labels(walker, form_field)))
        return True

    async def on_button(self, chat: int, member: Member, message_id: int,
                        parts: list[str]) -> str | None:
        """A tap on a form button; returns a short answer for the tap, if any."""
        walker = await self._load(member)
        if walker is None:
            return tg.plain(Message("telegram/formulier_klaar"))
        if len(parts) < 2 or parts[0] != str(walker.walk["n"]):
            return tg.plain(Message("telegram/knop_verlopen"))
        op, arg = parts[1], (parts[2] if len(parts) > 2 else "")
        fields = walker.fields()
        form_field = walker.current()
        editing = bool(walker.walk.get("edit"))
        if op == "i" and form_field is None and not editing:
            await self._submit(chat, walker, message_id)
        elif op == "p" and form_field is None and not editing:
            await self._edit_list(chat, walker)
        elif op == "o" and editing:
            walker.walk["edit"] = False
            await self._summary(chat, walker)
        elif op == "x":
            await self.cancel(chat, member)
        elif op == "e" and editing and arg.isdigit() and int(arg) < len(fields):
            walker.walk["edit"] = False
            walker.go_to(fields[int(arg)].name)
            await self._ask_current(chat, walker, show_previous=True)
        elif form_field is None:
            return tg.plain(Message("telegram/knop_verlopen"))
        elif op == "c" and arg.isdigit():
            choices = walker.choices(form_field)
            if int(arg) >= len(choices):
                return tg.plain(Message("telegram/knop_verlopen"))
            await self._accept(chat, walker, choices[int(arg)])
        elif op == "s" and not form_field.required:
            await self._accept(chat, walker, "")
        elif op == "t" and form_field.kind == "multichoice" and arg.isdigit():
            if int(arg) < len(form_field.choices):
                walker.toggle(form_field.choices[int(arg)])
                await self._save(walker)
                await self.courier.bot.edit_message_reply_markup(
                    chat_id=chat, message_id=message_id,
                    reply_markup=self._keyboard(walker, form_field))
        elif op == "k" and form_field.kind == "multichoice":
            await self._accept(chat, walker, list(walker.answers.get(form_field.name) or []))
        else:
            return tg.plain(Message("telegram/knop_verlopen"))
        return None

    # --- steps --------------------------------------------------------------------------------

    async def _load(self, member: Member) -> Walker | None:
        walk = await storage.load_draft(self.services, draft_key(member))
        if walk is None or walk.get("form") != FORM:
            return None
        return Walker(self.services, member, walk)

    async def _save(self, walker: Walker) -> None:
        await storage.save_draft(self.services, draft_key(walker.member), walker.walk)

    async def _accept(self, chat: int, walker: Walker, raw: Any) -> None:
        problem = walker.answer(raw)
        if problem is not None:
            await self.courier.send(chat, problem)
        await self._ask_current(chat, walker)

    async def _ask_current(self, chat: int, walker: Walker, show_previous: bool = False) -> None:
        form_field = walker.current()
        if form_field is None:
            if walker.walk.get("edit"):
                await self._edit_list(chat, walker)
            else:
                await self._summary(chat, walker)
            return
        walker.walk["n"] += 1
        await self._save(walker)
        previous = walker.answers.get(form_field.name)
        if show_previous and previous not in (None, "", []):
            await self._say(chat, "telegram/vorig_antwoord",
                            waarde=self._display(walker, form_field, previous))
        keuzes = self._labels(walker, form_field) if form_field.kind == "choice" else {}
        question = Message("melding/vraag", {"veld": form_field.name,
                                             "verplicht": form_field.required, "keuzes": keuzes})
        await self.courier.send(chat, question, markup=self._keyboard(walker, form_field))

    def _labels(self, walker: Walker, form_field: FormField) -> dict[str, str]:
        names = choice_names(self.services, FORM, form_field.name)
        return {key: choice_label(FORM, form_field.name, key, names)
                for key in walker.choices(form_field)}

    def _keyboard(self, walker: Walker, form_field: FormField) -> InlineKeyboardMarkup | None:
        n = str(walker.walk["n"])
        labels = self._labels(walker, form_field)
        buttons: list[InlineKeyboardButton] = []
        if form_field.kind in ("choice", "yesno"):
            buttons = [tg.button(labels[key], tg.callback_data(PREFIX, n, "c", str(i)))
                       for i, key in enumerate(walker.choices(form_field))]
        elif form_field.kind == "multichoice":
            selected = set(walker.answers.get(form_field.name) or [])
            mark = tg.label("telegram.gekozen")
            buttons = [tg.button(f"{mark} {labels[key]}" if key in selected else labels[key],
                                 tg.callback_data(PREFIX, n, "t", str(i)))
                       for i, key in enumerate(form_field.choices)]
            markup = tg.rows(buttons, per_row=1)
            done = tg.button(tg.label("telegram.klaar"), tg.callback_data(PREFIX, n, "k"))
            return InlineKeyboardMarkup([*markup.inline_keyboard, [done]])
        if not form_field.required:
            buttons.append(tg.button(tg.label("telegram.overslaan"),
                                     tg.callback_data(PREFIX, n, "s")))
        return tg.rows(buttons) if buttons else None

    async def _summary(self, chat: int, walker: Walker) -> None:
        problems = walker.check_all()
        if problems:
            for message in problems:
                await self.courier.send(chat, message)
            if walker.current() is not None:
                await self._ask_current(chat, walker)
            return
        walker.walk["n"] += 1
        await self._save(walker)
        rows = [{"label": renderer("html").label(f"veld.{f.name}"),
                 "waarde": self._display(walker, f, walker.answers.get(f.name))}
                for f in walker.fields() if f.applies(walker.answers)]
        n = str(walker.walk["n"])
        markup = InlineKeyboardMarkup([
            [tg.button(tg.label("telegram.indienen"), tg.callback_data(PREFIX, n, "i"))],
            [tg.button(tg.label("telegram.aanpassen"), tg.callback_data(PREFIX, n, "p")),
             tg.button(tg.label("telegram.stoppen"), tg.callback_data(PREFIX, n, "x"))],
        ])
        await self.courier.send(chat, Message("melding/samenvatting", {"regels": rows}),
                                markup=markup)

    async def _edit_list(self, chat: int, walker: Walker) -> None:
        walker.walk["edit"] = True
        walker.walk["n"] += 1
        await self._save(walker)
        n = str(walker.walk["n"])
        buttons = [tg.button(tg.label(f"veld.{f.name}"), tg.callback_data(PREFIX, n, "e", str(i)))
                   for i, f in enumerate(walker.fields()) if f.applies(walker.answers)]
        buttons.append(tg.button(tg.label("telegram.terug_overzicht"),
                                 tg.callback_data(PREFIX, n, "o")))
        await self.courier.send(chat, Message("telegram/welke_vraag"),
                                markup=tg.rows(buttons, per_row=2))

    async def _submit(self, chat: int, walker: Walker, message_id: int) -> None:
        try:
            result = await walker.submit(f"telegram:{walker.walk['id']}")
        except FormInvalid as invalid:
            wrong = walker.current()
            if wrong is None:
                for message in invalid.errors.values():
                    await self.courier.send(chat, message)
                return
            await self.courier.send(chat, invalid.errors[wrong.name])
            await self._ask_current(chat, walker)
            return
        await storage.delete_draft(self.services, draft_key(walker.member))
        with contextlib.suppress(TelegramError):  # the summary's buttons are done
            await self.courier.bot.edit_message_reply_markup(chat_id=chat, message_id=message_id)
        await self.respond(chat, walker.member, result)

    # --- texts --------------------------------------------------------------------------------

    def _display(self, walker: Walker, form_field: FormField, raw: Any) -> str:
        if raw in (None, "", []):
            return tg.label("telegram.leeg")
        return shown_answer(FORM, form_field.name, form_field.kind, raw,
                            choice_names(self.services, FORM, form_field.name))

    async def _say(self, chat: int, template: str, **data: Any) -> None:
        await self.courier.send(chat, Message(template, data))
