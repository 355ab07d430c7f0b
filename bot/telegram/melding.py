"""/melding in a private chat: the casusformulier step by step, kept in the database.

One question at a time, with inline buttons for choices (household categories as toggles with
"Klaar"), the same checks as every other adapter (`check_field`, then `check_form`), `/terug`
and `/annuleer`, and a summary with "Indienen" / "Aanpassen". The form in progress is a
`FormDraft` (encrypted), so it survives a restart of the bot.

Button data: "f|<n>|<op>[|<index>]". `n` counts the questions asked; a tap on a button of an
earlier question (or a second tap) no longer matches and changes nothing.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.telegram import storage
from bot.telegram.courier import TelegramCourier
from commands.context import Services
from commands.melding import (
    FormField,
    check_field,
    check_form,
    field_error,
    file_melding,
    melding_fields,
    require_melder,
)
from commands.organisation import Member
from commands.replies import FormInvalid, Message, Result
from commands.validation import FieldProblem
from messages import telegram as tg
from messages.render import renderer

SUMMARY = "__samenvatting__"
EDIT = "__aanpassen__"
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
        draft = await storage.load_draft(self.services, draft_key(member))
        if draft is not None:
            await self._say(chat, "telegram/melding_verder")
            await self._ask_current(chat, member, draft)
            return
        draft = {"id": uuid.uuid4().hex, "answers": {}, "done": [], "step": "", "n": 0}
        await self.courier.send(chat, Message("melding/start"))
        await self._next(chat, member, draft)

    async def active(self, member: Member) -> bool:
        return await storage.load_draft(self.services, draft_key(member)) is not None

    async def cancel(self, chat: int, member: Member) -> bool:
        if not await storage.delete_draft(self.services, draft_key(member)):
            return False
        await self.courier.send(chat, Message("melding/geannuleerd"))
        return True

    async def back(self, chat: int, member: Member) -> bool:
        draft = await storage.load_draft(self.services, draft_key(member))
        if draft is None:
            return False
        done: list[str] = draft["done"]
        if done:
            draft["step"] = done.pop()
        else:
            await self._say(chat, "telegram/eerste_vraag")
        await self._ask_current(chat, member, draft, show_previous=True)
        return True

    async def on_text(self, chat: int, member: Member, text: str) -> bool:
        """An answer typed in the private chat; False when no form is in progress."""
        draft = await storage.load_draft(self.services, draft_key(member))
        if draft is None:
            return False
        form_field = self._field(member, draft["step"])
        if form_field is None:
            await self._say(chat, "telegram/gebruik_knoppen")
            return True
        raw: Any = text
        if form_field.kind == "choice":
            raw = self._choice_from_text(form_field, text)
        elif form_field.kind == "multichoice":
            raw = [self._choice_from_text(form_field, part) for part in text.split(",")
                   if part.strip()]
        await self._accept(chat, member, draft, form_field, raw)
        return True

    async def on_button(self, chat: int, member: Member, message_id: int,
                        parts: list[str]) -> str | None:
        """A tap on a form button; returns a short answer for the tap, if any."""
        draft = await storage.load_draft(self.services, draft_key(member))
        if draft is None:
            return tg.plain(Message("telegram/formulier_klaar"))
        if len(parts) < 2 or parts[0] != str(draft["n"]):
            return tg.plain(Message("telegram/knop_verlopen"))
        op, arg = parts[1], (parts[2] if len(parts) > 2 else "")
        fields = melding_fields(self.services.org, member)
        form_field = self._field(member, draft["step"])
        if op == "i" and draft["step"] == SUMMARY:
            await self._submit(chat, member, draft, message_id)
        elif op == "p" and draft["step"] == SUMMARY:
            await self._edit_list(chat, member, draft)
        elif op == "o" and draft["step"] == EDIT:
            await self._summary(chat, member, draft)
        elif op == "x":
            await self.cancel(chat, member)
        elif op == "e" and draft["step"] == EDIT and arg.isdigit() and int(arg) < len(fields):
            chosen = fields[int(arg)]
            draft["done"] = [name for name in draft["done"] if name != chosen.name]
            draft["step"] = chosen.name
            await self._ask_current(chat, member, draft, show_previous=True)
        elif form_field is None:
            return tg.plain(Message("telegram/knop_verlopen"))
        elif op == "c" and arg.isdigit():
            choices = self._choices(form_field)
            if int(arg) >= len(choices):
                return tg.plain(Message("telegram/knop_verlopen"))
            await self._accept(chat, member, draft, form_field, choices[int(arg)])
        elif op == "s" and not form_field.required:
            await self._accept(chat, member, draft, form_field, "")
        elif op == "t" and form_field.kind == "multichoice" and arg.isdigit():
            await self._toggle(chat, member, draft, form_field, int(arg), message_id)
        elif op == "k" and form_field.kind == "multichoice":
            selected = list(draft["answers"].get(form_field.name) or [])
            await self._accept(chat, member, draft, form_field, selected)
        else:
            return tg.plain(Message("telegram/knop_verlopen"))
        return None

    # --- steps --------------------------------------------------------------------------------

    def _field(self, member: Member, name: str) -> FormField | None:
        return next((f for f in melding_fields(self.services.org, member) if f.name == name), None)

    async def _accept(self, chat: int, member: Member, draft: dict[str, Any],
                      form_field: FormField, raw: Any) -> None:
        try:
            check_field(form_field, raw, self.services.today())
        except FieldProblem as problem:
            if form_field.kind == "multichoice":
                draft["answers"][form_field.name] = [
                    v for v in (raw or []) if v in form_field.choices]
            await self.courier.send(chat, field_error(form_field, problem))
            await self._ask_current(chat, member, draft)
            return
        draft["answers"][form_field.name] = raw
        draft["done"] = [name for name in draft["done"] if name != form_field.name]
        draft["done"].append(form_field.name)
        await self._next(chat, member, draft)

    async def _next(self, chat: int, member: Member, draft: dict[str, Any]) -> None:
        answers = draft["answers"]
        for form_field in melding_fields(self.services.org, member):
            if form_field.applies(answers) and form_field.name not in draft["done"]:
                draft["step"] = form_field.name
                await self._ask_current(chat, member, draft)
                return
        await self._summary(chat, member, draft)

    async def _ask_current(self, chat: int, member: Member, draft: dict[str, Any],
                           show_previous: bool = False) -> None:
        if draft["step"] == SUMMARY or not draft["step"]:
            await self._summary(chat, member, draft)
            return
        if draft["step"] == EDIT:
            await self._edit_list(chat, member, draft)
            return
        form_field = self._field(member, draft["step"])
        if form_field is None:
            await self._next(chat, member, draft)
            return
        draft["n"] += 1
        await storage.save_draft(self.services, draft_key(member), draft)
        previous = draft["answers"].get(form_field.name)
        if show_previous and previous not in (None, "", []):
            await self._say(chat, "telegram/vorig_antwoord",
                            waarde=self._display(form_field, previous))
        keuzes = {key: self._choice_text(form_field, key) for key in self._choices(form_field)} \
            if form_field.kind == "choice" else {}
        question = Message("melding/vraag", {"veld": form_field.name,
                                             "verplicht": form_field.required, "keuzes": keuzes})
        await self.courier.send(chat, question, markup=self._keyboard(form_field, draft))

    def _keyboard(self, form_field: FormField, draft: dict[str, Any]) -> InlineKeyboardMarkup | None:
        n = str(draft["n"])
        buttons: list[InlineKeyboardButton] = []
        if form_field.kind in ("choice", "yesno"):
            buttons = [tg.button(self._choice_text(form_field, key), tg.callback_data(
                PREFIX, n, "c", str(i))) for i, key in enumerate(self._choices(form_field))]
        elif form_field.kind == "multichoice":
            selected = set(draft["answers"].get(form_field.name) or [])
            mark = tg.label("telegram.gekozen")
            buttons = [tg.button(
                f"{mark} {self._choice_text(form_field, key)}" if key in selected
                else self._choice_text(form_field, key),
                tg.callback_data(PREFIX, n, "t", str(i)),
            ) for i, key in enumerate(form_field.choices)]
            markup = tg.rows(buttons, per_row=1)
            done = tg.button(tg.label("telegram.klaar"), tg.callback_data(PREFIX, n, "k"))
            return InlineKeyboardMarkup([*markup.inline_keyboard, [done]])
        if not form_field.required:
            buttons.append(tg.button(tg.label("telegram.overslaan"),
                                     tg.callback_data(PREFIX, n, "s")))
        return tg.rows(buttons) if buttons else None

    async def _toggle(self, chat: int, member: Member, draft: dict[str, Any],
                      form_field: FormField, index: int, message_id: int) -> None:
        if index >= len(form_field.choices):
            return
        key = form_field.choices[index]
        selected = list(draft["answers"].get(form_field.name) or [])
        selected = [k for k in selected if k != key] if key in selected else [*selected, key]
        draft["answers"][form_field.name] = selected
        await storage.save_draft(self.services, draft_key(member), draft)
        await self.courier.bot.edit_message_reply_markup(
            chat_id=chat, message_id=message_id, reply_markup=self._keyboard(form_field, draft))

    async def _summary(self, chat: int, member: Member, draft: dict[str, Any]) -> None:
        org = self.services.org
        try:
            check_form(org, member, draft["answers"], self.services.today())
        except FormInvalid as invalid:
            await self._back_to_error(chat, member, draft, invalid)
            return
        draft["step"] = SUMMARY
        draft["n"] += 1
        await storage.save_draft(self.services, draft_key(member), draft)
        rows = [{"label": renderer("html").label(f"veld.{f.name}"),
                 "waarde": self._display(f, draft["answers"].get(f.name))}
                for f in melding_fields(org, member) if f.applies(draft["answers"])]
        n = str(draft["n"])
        markup = InlineKeyboardMarkup([
            [tg.button(tg.label("telegram.indienen"), tg.callback_data(PREFIX, n, "i"))],
            [tg.button(tg.label("telegram.aanpassen"), tg.callback_data(PREFIX, n, "p")),
             tg.button(tg.label("telegram.stoppen"), tg.callback_data(PREFIX, n, "x"))],
        ])
        await self.courier.send(chat, Message("melding/samenvatting", {"regels": rows}),
                                markup=markup)

    async def _back_to_error(self, chat: int, member: Member, draft: dict[str, Any],
                             invalid: FormInvalid) -> None:
        fields = melding_fields(self.services.org, member)
        wrong = next((f for f in fields if f.name in invalid.errors), None)
        if wrong is None:
            for message in invalid.errors.values():
                await self.courier.send(chat, message)
            return
        await self.courier.send(chat, invalid.errors[wrong.name])
        draft["done"] = [name for name in draft["done"] if name != wrong.name]
        draft["step"] = wrong.name
        await self._ask_current(chat, member, draft)

    async def _edit_list(self, chat: int, member: Member, draft: dict[str, Any]) -> None:
        draft["step"] = EDIT
        draft["n"] += 1
        await storage.save_draft(self.services, draft_key(member), draft)
        n = str(draft["n"])
        buttons = [tg.button(tg.label(f"veld.{f.name}"), tg.callback_data(PREFIX, n, "e", str(i)))
                   for i, f in enumerate(melding_fields(self.services.org, member))
                   if f.applies(draft["answers"])]
        buttons.append(tg.button(tg.label("telegram.terug_overzicht"),
                                 tg.callback_data(PREFIX, n, "o")))
        await self.courier.send(chat, Message("telegram/welke_vraag"),
                                markup=tg.rows(buttons, per_row=2))

    async def _submit(self, chat: int, member: Member, draft: dict[str, Any],
                      message_id: int) -> None:
        try:
            result = await file_melding(self.services, member, draft["answers"],
                                        submission_key=f"telegram:{draft['id']}")
        except FormInvalid as invalid:
            await self._back_to_error(chat, member, draft, invalid)
            return
        await storage.delete_draft(self.services, draft_key(member))
        with contextlib.suppress(TelegramError):  # the summary's buttons are done
            await self.courier.bot.edit_message_reply_markup(chat_id=chat, message_id=message_id)
        await self.respond(chat, member, result)

    # --- texts --------------------------------------------------------------------------------

    def _choices(self, form_field: FormField) -> tuple[str, ...]:
        return ("ja", "nee") if form_field.kind == "yesno" else form_field.choices

    def _choice_text(self, form_field: FormField, key: str) -> str:
        org = self.services.org
        if form_field.name == "corporatie":
            return org.partner(key).name
        if form_field.name == "regieteam":
            return org.regieteam(key).name
        if form_field.name == "wijk" and key in org.all_wijken():
            return key
        return renderer("plain").choice(key)

    def _choice_from_text(self, form_field: FormField, text: str) -> str:
        """A typed choice: its number, its key or its text."""
        cleaned = text.strip()
        choices = self._choices(form_field)
        if cleaned.isdigit() and 1 <= int(cleaned) <= len(choices):
            return choices[int(cleaned) - 1]
        for key in choices:
            if cleaned.casefold() in (key.casefold(), self._choice_text(form_field, key).casefold()):
                return key
        return cleaned

    def _display(self, form_field: FormField, raw: Any) -> str:
        if raw in (None, "", []):
            return tg.label("telegram.leeg")
        if form_field.kind == "multichoice":
            return ", ".join(self._choice_text(form_field, str(k)) for k in raw)
        if form_field.kind == "choice":
            return self._choice_text(form_field, str(raw))
        if form_field.kind == "yesno":
            return renderer("plain").choice(str(raw).strip().lower())
        return str(raw)

    async def _say(self, chat: int, template: str, **data: Any) -> None:
        await self.courier.send(chat, Message(template, data))
