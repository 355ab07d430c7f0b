"""One question at a time through a form, for the doors that cannot show a whole form at once
(the console, a Telegram private chat).

A `Walk` is plain data (it is kept in a `FormDraft` on Telegram, so it survives a restart):
the form, what it is for, the answers so far and the question being asked. `Walker` moves
through it: the current question, an answer (checked at once by its kind and the form's own
check; a wrong answer keeps what was typed and asks again), back, skip, the summary, and
submitting to the form's use case. Doors only render questions and read input.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import date
from typing import Any

from commands.context import Services
from commands.forms import CONTEXT, FORMS, STOPPING, CaseForm, check_early
from commands.melding import FormField, check_field, field_error
from commands.organisation import Member
from commands.replies import CommandRefused, FormInvalid, Message, Result
from commands.validation import FieldProblem

Walk = dict[str, Any]


def folded(text: str) -> str:
    """Case- and accent-insensitive form of a typed word."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("_", " ")


def _stored(form_field: FormField, value: Any) -> Any:
    """A checked value as the use cases take it from a modal: strings and lists of strings."""
    if value is None:
        return ""
    if form_field.kind == "multichoice":
        return [str(v) for v in value]
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _typed(form_field: FormField, raw: Any, value: Any) -> Any:
    """What is kept: the checked value, cleaned (a postcode as "6511 AB", an amount in cents
    written as "1.234,50", which the use case reads again)."""
    if form_field.kind == "amount" and isinstance(value, int):
        euros, cents = divmod(value, 100)
        return f"{euros:,}".replace(",", ".") + f",{cents:02d}"
    return _stored(form_field, value)


class Walker:
    """Walks `walk` for `member`."""

    def __init__(self, services: Services, member: Member, walk: Walk) -> None:
        self.services = services
        self.member = member
        self.walk = walk
        self.form: CaseForm = FORMS[walk["form"]]

    # --- starting ------------------------------------------------------------------------

    @classmethod
    async def start(cls, services: Services, member: Member, name: str, value: str,
                    values: dict[str, Any] | None = None) -> Walker:
        """Check that the member may fill in form `name` for `value` (raises CommandRefused),
        read what its questions need, and stand on the first open question. `values` are
        answers given already (typed with a text command); a wrong one is asked."""
        form = FORMS[name]
        if form.check is not None:
            await form.check(services, member, value)
        context = await form.prepare(services, member, value) if form.prepare else {}
        walk: Walk = {"form": name, "value": value, "context": context,
                      "answers": form.initial_answers(services, context, False),
                      "done": [], "typed": {}, "step": "", "n": 0, "id": uuid.uuid4().hex}
        walker = cls(services, member, walk)
        for key, given in (values or {}).items():
            field = walker.field(key)
            if field is None:
                continue
            if walker._checked(field, given) is None:
                walk["done"].append(key)
            else:  # asked in its turn, with what was given shown back
                walk["typed"][key] = given
        walker._next()
        return walker

    # --- where we are --------------------------------------------------------------------

    @property
    def answers(self) -> dict[str, Any]:
        answers: dict[str, Any] = self.walk["answers"]
        return answers

    def fields(self) -> list[FormField]:
        return self.form.field_list(self.services, self.member, self.walk["context"], False)

    def field(self, name: str) -> FormField | None:
        return next((f for f in self.fields() if f.name == name), None)

    def current(self) -> FormField | None:
        """The question being asked; None when every question is answered."""
        return self.field(self.walk["step"]) if self.walk["step"] else None

    @property
    def finished(self) -> bool:
        return self.current() is None

    def typed(self, name: str) -> Any:
        """What was typed last for `name` and refused, to show it back."""
        return self.walk["typed"].get(name)

    def choices(self, form_field: FormField) -> tuple[str, ...]:
        return ("ja", "nee") if form_field.kind == "yesno" else form_field.choices

    def interpret(self, text: str, labels: dict[str, str]) -> Any:
        """A typed answer to the current question: choices by number, id or label (`labels`:
        id → shown text), case- and accent-insensitively; several separated by commas."""
        form_field = self.current()
        if form_field is None or form_field.kind not in ("choice", "multichoice", "yesno"):
            return text
        keys = self.choices(form_field)

        def pick(word: str) -> str:
            cleaned = word.strip()
            if cleaned.isdigit() and 1 <= int(cleaned) <= len(keys):
                return keys[int(cleaned) - 1]
            wanted = folded(cleaned)
            return next((k for k in keys if wanted in (folded(k), folded(labels.get(k, k)))),
                        cleaned)

        if form_field.kind == "multichoice":
            whole = pick(text)
            if whole in keys:  # a label that itself holds a comma
                return [whole]
            return [pick(part) for part in text.split(",") if part.strip()]
        return pick(text)

    # --- moving --------------------------------------------------------------------------

    def answer(self, raw: Any) -> Message | None:
        """Answer the current question. A wrong answer returns what to fix; the question
        stays, the other answers stay, and what was typed is kept (`typed`)."""
        form_field = self.current()
        if form_field is None:
            return None
        problem = self._checked(form_field, raw)
        if problem is not None:
            self.walk["typed"][form_field.name] = raw
            if form_field.kind == "multichoice":  # keep the choices that are right
                self.answers[form_field.name] = [v for v in (raw or []) if v in form_field.choices]
            return problem
        self.walk["typed"].pop(form_field.name, None)
        done = [name for name in self.walk["done"] if name != form_field.name]
        self.walk["done"] = [*done, form_field.name]
        self._next()
        return None

    def skip(self) -> Message | None:
        return self.answer("")

    def toggle(self, key: str) -> None:
        """Tick or untick one choice of the current multiple-choice question."""
        form_field = self.current()
        if form_field is None or form_field.kind != "multichoice" or key not in form_field.choices:
            return
        chosen = list(self.answers.get(form_field.name) or [])
        self.answers[form_field.name] = [k for k in chosen if k != key] if key in chosen \
            else [*chosen, key]

    def back(self) -> bool:
        """One question back; False when this is the first question."""
        done: list[str] = self.walk["done"]
        open_ = [name for name in done if (f := self.field(name)) is not None
                 and f.applies(self.answers)]
        if not open_:
            return False
        previous = open_[-1]
        self.walk["done"] = [name for name in done if name != previous]
        self.walk["step"] = previous
        return True

    def go_to(self, name: str) -> None:
        """Ask `name` again (to change it, or because the use case refused it)."""
        self.walk["done"] = [n for n in self.walk["done"] if n != name]
        self.walk["step"] = name

    def summary(self) -> list[tuple[FormField, Any]]:
        """Every answered question that applies, in form order, with its answer."""
        return [(f, self.answers.get(f.name)) for f in self.fields()
                if f.applies(self.answers) and self.answers.get(f.name) not in (None, "", [])]

    def check_all(self) -> list[Message]:
        """The rules between answers (a form with a summary checks them before it is shown).
        When one is about a question, that question is asked again; returns what to fix."""
        if self.form.final_check is None:
            return []
        try:
            self.form.final_check(self.services, self.member, self.answers)
        except FormInvalid as invalid:
            return self._back_to_error(invalid)
        return []

    def _back_to_error(self, invalid: FormInvalid) -> list[Message]:
        wrong = next((f for f in self.fields() if f.name in invalid.errors), None)
        if wrong is None:
            return list(invalid.errors.values())
        self.go_to(wrong.name)
        return [invalid.errors[wrong.name]]

    async def submit(self, submission_key: str | None = None) -> Result:
        """Hand the answers to the form's use case. A refusal about one question stands on
        that question again and is raised (`stops` tells whether asking again can help)."""
        answers = {**{f.name: self.answers.get(f.name) for f in self.fields()
                      if f.applies(self.answers)}, CONTEXT: self.walk["context"]}
        try:
            return await self.form.submit(self.services, self.member, self.walk["value"], answers,
                                          submission_key or f"walk:{self.walk['id']}")
        except FormInvalid as invalid:
            self._back_to_error(invalid)
            raise
        except CommandRefused as refused:
            names = [f.name for f in self.fields() if f.applies(self.answers)]
            target = self.form.field_for(refused.message, names)
            if refused.message.template not in STOPPING:
                self.go_to(target or names[0])
            raise

    def stops(self, refused: CommandRefused) -> bool:
        """After this refusal, asking again does not help."""
        return refused.message.template in STOPPING

    # --- inside ----------------------------------------------------------------------------

    def _checked(self, form_field: FormField, raw: Any) -> Message | None:
        try:
            value = check_field(form_field, raw, self.services.today())
            stored = _typed(form_field, raw, value)
            if isinstance(stored, str):
                check_early(self.form, self.services, form_field.name, stored)
        except FieldProblem as problem:
            return field_error(form_field, problem)
        except CommandRefused as refused:
            return refused.message
        if (rule := self._between(form_field, value)) is not None:
            return rule
        self.answers[form_field.name] = stored
        return None

    def _between(self, form_field: FormField, value: Any) -> Message | None:
        """A rule between this answer and those already given (a date before an earlier one,
        a family without children), told now rather than at the end."""
        if self.form.between is None:
            return None
        known: dict[str, Any] = {form_field.name: value}
        today = self.services.today()
        for other in self.fields():
            if other.name in self.answers and other.name != form_field.name:
                try:
                    known[other.name] = check_field(other, self.answers[other.name], today)
                except FieldProblem:
                    continue
        return self.form.between(self.services, self.member, known).get(form_field.name)

    def _next(self) -> None:
        for form_field in self.fields():
            if form_field.applies(self.answers) and form_field.name not in self.walk["done"]:
                self.walk["step"] = form_field.name
                return
        self.walk["step"] = ""


__all__ = ["Walk", "Walker", "folded"]
