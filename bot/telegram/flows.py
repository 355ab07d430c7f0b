"""Short conversations in the private chat for buttons that need input.

Choosing the steps (vote on question 2), recording the decision, appointing the casemanager,
giving terugkoppeling and closing a case each ask a few questions and then call the command.
Like the melding form, the conversation in progress is a `FormDraft`, so it survives a
restart. A refusal by the command (a wrong date, a missing reason) is shown and the
question it concerns is asked again, keeping the other answers.

Button data: "q|<n>|<op>[|<index>]" (`n` as in the melding form).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram import storage
from bot.telegram.courier import TelegramCourier
from commands.context import Services
from commands.organisation import Member
from commands.replies import CommandRefused, Message, Result
from commands.validation import FieldProblem, check_free_text, parse_date
from messages import telegram as tg
from messages.render import renderer

StepKind = Literal["choice", "multichoice", "text", "date"]
Answers = dict[str, Any]
Choices = Callable[[Services, Member, Answers], list[tuple[str, str]]]
Finish = Callable[[Services, Member, str, Answers, str], Awaitable[Result]]
Check = Callable[[Services, Member, str], Awaitable[None]]
Prepare = Callable[[Services, Member, str], Awaitable[Answers]]
Question = Callable[[Answers], Message]
Respond = Callable[[int, Member, Result], Awaitable[None]]
PREFIX = "q"


@dataclass(frozen=True)
class Step:
    name: str
    kind: StepKind
    choices: Choices | None = None
    required: bool = True
    when: Callable[[Answers], bool] | None = None
    max_length: int = 1000
    validate: Callable[[Services, str], object] | None = None  # raises CommandRefused
    question: Question | None = None  # its own question text, else "vraag.<flow>.<step>"

    def applies(self, answers: Answers) -> bool:
        return self.when is None or self.when(answers)


@dataclass(frozen=True)
class Flow:
    """A conversation: its questions, a check before it starts, and the command at the end.

    `finish(services, member, value, answers, submission_key)`; `prepare` reads what the
    questions need (e.g. the plan's conditions) once, into the answers kept in the draft."""

    name: str
    code: str  # one letter, for /start deep links
    steps: tuple[Step, ...]
    finish: Finish
    check: Check | None = None
    prepare: Prepare | None = None


def key_for(member: Member) -> str:
    return f"gesprek:{member.id}"


class Conversations:
    def __init__(self, services: Services, courier: TelegramCourier, respond: Respond,
                 flows: dict[str, Flow]) -> None:
        self.services = services
        self.courier = courier
        self.respond = respond
        self.flows = flows

    def by_code(self, code: str) -> Flow | None:
        return next((f for f in self.flows.values() if f.code == code), None)

    async def start(self, chat: int, member: Member, name: str, value: str) -> None:
        """Begin (or restart) a conversation; raises CommandRefused when not allowed."""
        flow = self.flows[name]
        if flow.check is not None:
            await flow.check(self.services, member, value)
        answers: Answers = {}
        if flow.prepare is not None:
            answers = await flow.prepare(self.services, member, value)
        draft = {"flow": name, "value": value, "answers": answers, "step": 0, "n": 0,
                 "id": uuid.uuid4().hex}
        await self.courier.send(chat, Message("telegram/gesprek_start", {
            "gesprek": name, "referentie": value if value.startswith("RT-") else None}))
        await self._ask(chat, member, draft, self._first_open(flow, draft, 0))

    async def active(self, member: Member) -> bool:
        return await storage.load_draft(self.services, key_for(member)) is not None

    async def cancel(self, chat: int, member: Member) -> bool:
        if not await storage.delete_draft(self.services, key_for(member)):
            return False
        await self.courier.send(chat, Message("telegram/gesprek_gestopt"))
        return True

    async def back(self, chat: int, member: Member) -> bool:
        draft = await storage.load_draft(self.services, key_for(member))
        if draft is None:
            return False
        flow = self.flows[draft["flow"]]
        index = draft["step"] - 1
        while index > 0 and not flow.steps[index].applies(draft["answers"]):
            index -= 1
        await self._ask(chat, member, draft, max(index, 0))
        return True

    async def on_text(self, chat: int, member: Member, text: str) -> bool:
        draft = await storage.load_draft(self.services, key_for(member))
        if draft is None:
            return False
        step = self.flows[draft["flow"]].steps[draft["step"]]
        raw: Any = text
        if step.kind in ("choice", "multichoice"):
            keys = [key for key, _ in self._choices(step, member, draft)]
            picked = [_pick(keys, part) for part in text.split(",")]
            raw = picked if step.kind == "multichoice" else picked[0]
        await self._accept(chat, member, draft, step, raw)
        return True

    async def on_button(self, chat: int, member: Member, message_id: int,
                        parts: list[str]) -> str | None:
        draft = await storage.load_draft(self.services, key_for(member))
        if draft is None:
            return tg.plain(Message("telegram/formulier_klaar"))
        if len(parts) < 2 or parts[0] != str(draft["n"]):
            return tg.plain(Message("telegram/knop_verlopen"))
        op, arg = parts[1], (parts[2] if len(parts) > 2 else "")
        step = self.flows[draft["flow"]].steps[draft["step"]]
        keys = [key for key, _ in self._choices(step, member, draft)]
        if op == "c" and arg.isdigit() and int(arg) < len(keys):
            await self._accept(chat, member, draft, step, keys[int(arg)])
        elif op == "t" and arg.isdigit() and int(arg) < len(keys):
            chosen = list(draft["answers"].get(step.name) or [])
            key = keys[int(arg)]
            chosen = [k for k in chosen if k != key] if key in chosen else [*chosen, key]
            draft["answers"][step.name] = chosen
            await storage.save_draft(self.services, key_for(member), draft)
            await self.courier.bot.edit_message_reply_markup(
                chat_id=chat, message_id=message_id,
                reply_markup=self._keyboard(step, member, draft))
        elif op == "k":
            await self._accept(chat, member, draft, step, draft["answers"].get(step.name) or [])
        elif op == "s" and not step.required:
            await self._accept(chat, member, draft, step, "")
        elif op == "x":
            await self.cancel(chat, member)
        else:
            return tg.plain(Message("telegram/knop_verlopen"))
        return None

    # --- steps --------------------------------------------------------------------------------

    def _first_open(self, flow: Flow, draft: dict[str, Any], start: int) -> int:
        index = start
        while index < len(flow.steps) and not flow.steps[index].applies(draft["answers"]):
            index += 1
        return index

    async def _accept(self, chat: int, member: Member, draft: dict[str, Any], step: Step,
                      raw: Any) -> None:
        try:
            value = self._check(step, member, draft, raw)
        except FieldProblem as problem:
            await self.courier.send(chat, Message(f"fout/{problem.template}",
                                                  {"veld": step.name, **problem.data}))
            await self._ask(chat, member, draft, draft["step"])
            return
        except CommandRefused as refused:
            await self.courier.send(chat, refused.message)
            await self._ask(chat, member, draft, draft["step"])
            return
        draft["answers"][step.name] = value
        flow = self.flows[draft["flow"]]
        await self._ask(chat, member, draft, self._first_open(flow, draft, draft["step"] + 1))

    def _check(self, step: Step, member: Member, draft: dict[str, Any], raw: Any) -> Any:
        if step.kind == "multichoice":
            keys = [key for key, _ in self._choices(step, member, draft)]
            values = [str(v) for v in (raw or [])]
            if not values:
                raise FieldProblem("kies_minstens_een")
            if any(v not in keys for v in values):
                raise FieldProblem("keuze_onbekend", keuzes=keys)
            return values
        text = str(raw or "").strip()
        if not text:
            if step.required:
                raise FieldProblem("verplicht")
            return ""
        if step.kind == "choice":
            keys = [key for key, _ in self._choices(step, member, draft)]
            if text not in keys:
                raise FieldProblem("keuze_onbekend", keuzes=keys)
            return text
        if step.kind == "date":
            value = parse_date(text).isoformat()
        else:
            value = check_free_text(text, self.services.today(), max_length=step.max_length)
        if step.validate is not None:
            step.validate(self.services, value)
        return value

    async def _ask(self, chat: int, member: Member, draft: dict[str, Any], index: int) -> None:
        flow = self.flows[draft["flow"]]
        if index >= len(flow.steps):
            await self._finish(chat, member, draft)
            return
        draft["step"] = index
        draft["n"] += 1
        await storage.save_draft(self.services, key_for(member), draft)
        step = flow.steps[index]
        question = step.question(draft["answers"]) if step.question else Message(
            "telegram/gesprek_vraag", {
                "vraag": renderer("html").label(f"vraag.{flow.name}.{step.name}"),
                "uitleg": renderer("html").label(f"uitleg.{flow.name}.{step.name}"),
                "verplicht": step.required, "referentie": draft["value"],
            })
        await self.courier.send(chat, question, markup=self._keyboard(step, member, draft))

    def _choices(self, step: Step, member: Member, draft: dict[str, Any]) -> list[tuple[str, str]]:
        if step.choices is None:
            return []
        return step.choices(self.services, member, draft["answers"])

    def _keyboard(self, step: Step, member: Member,
                  draft: dict[str, Any]) -> InlineKeyboardMarkup | None:
        n = str(draft["n"])
        choices = self._choices(step, member, draft)
        rows: list[list[InlineKeyboardButton]] = []
        if step.kind == "choice":
            rows = [list(r) for r in tg.rows([tg.button(text, tg.callback_data(
                PREFIX, n, "c", str(i))) for i, (_key, text) in enumerate(choices)]).inline_keyboard]
        elif step.kind == "multichoice":
            chosen = set(draft["answers"].get(step.name) or [])
            mark = tg.label("telegram.gekozen")
            rows = [[tg.button(f"{mark} {text}" if key in chosen else text,
                               tg.callback_data(PREFIX, n, "t", str(i)))]
                    for i, (key, text) in enumerate(choices)]
            rows.append([tg.button(tg.label("telegram.klaar"), tg.callback_data(PREFIX, n, "k"))])
        if not step.required:
            rows.append([tg.button(tg.label("telegram.overslaan"),
                                   tg.callback_data(PREFIX, n, "s"))])
        return InlineKeyboardMarkup(rows) if rows else None

    async def _finish(self, chat: int, member: Member, draft: dict[str, Any]) -> None:
        flow = self.flows[draft["flow"]]
        try:
            result = await flow.finish(self.services, member, draft["value"], draft["answers"],
                                       f"telegram:{draft['id']}")
        except CommandRefused as refused:
            await self.courier.send(chat, refused.message)
            names = [s.name for s in flow.steps]
            field = refused.message.data.get("veld")
            index = names.index(field) if field in names else 0
            if refused.message.template in STOPPING:
                await storage.delete_draft(self.services, key_for(member))
                return
            await self._ask(chat, member, draft, index)
            return
        await storage.delete_draft(self.services, key_for(member))
        await self.respond(chat, member, result)


# Refusals after which asking again does not help: the conversation stops.
STOPPING = frozenset({
    "fout/geen_rol", "fout/casus_onbekend", "fout/stemming_gesloten", "fout/niet_op_agenda",
    "fout/geen_stemrecht", "fout/al_gesloten", "fout/niet_in_uitvoering", "fout/eerst_besluit",
    "fout/geen_quorum", "fout/geen_terugkoppeling_recht", "fout/geen_toegang_casus",
})


def _pick(keys: list[str], text: str) -> str:
    cleaned = text.strip()
    if cleaned.isdigit() and 1 <= int(cleaned) <= len(keys):
        return keys[int(cleaned) - 1]
    return next((k for k in keys if k.casefold() == cleaned.casefold()), cleaned)
