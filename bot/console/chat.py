"""A chat in the terminal that speaks to the same commands as Slack and Telegram.

A thin connector: it reads a line from standard input (a terminal or a pipe, so tests and
demos can script it), hands the command and its words to `commands.text.run_text` and prints
the reply. Replies to the member are printed plainly; posts to channels are printed with the
channel's name, and buttons are shown as commands one can type. Only `/als` (act as another
member) and `/knop` (press a button) belong to the console itself.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from bot.console.courier import ConsoleCourier, indent, show
from bot.delivery import Deliveries
from commands import audit, besluit, melding
from commands.actions import perform
from commands.context import Services
from commands.melding import FormField, check_field, check_form, field_error, melding_fields
from commands.organisation import Member
from commands.replies import CommandRefused, FormInvalid, Message, OpenForm, Result
from commands.text import run_text, split_words
from commands.validation import FieldProblem
from commands.words import ActionName
from messages.files import attachments
from messages.render import renderer

# Buttons that open a form on every door: button → form name.
FORM_BUTTONS: dict[str, str] = {
    ActionName.STAPPEN_KIEZEN: "stappen", ActionName.BESLUIT_VASTLEGGEN: "besluit",
    ActionName.TERUGKOPPELING_GEVEN: "terugkoppeling", ActionName.CASEMANAGER_AANWIJZEN: "casemanager",
    ActionName.HERINNERING_UITSTELLEN: "uitstellen", ActionName.SLUITEN: "sluiten"}
# The text command that explains a form, while the console has no questions for it yet.
FORM_COMMANDS = {"stappen": "stem", "sluiten": "sluit"}
Handler = Callable[[list[str]], Awaitable[Result | None]]


class FormCancelled(Exception):
    """The member typed /annuleer or the input ended."""


def operating_system_user() -> str:
    """Who is at the keyboard, as the operating system knows them (for the audit)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "onbekend"


class ConsoleChat:
    def __init__(self, services: Services, member: Member, deliveries: Deliveries,
                 inp: TextIO = sys.stdin, out: TextIO = sys.stdout, files_dir: Path = Path("var"),
                 *, admin: bool = False) -> None:
        self.base_services = services
        self.services = services
        self.member = member
        self.admin = admin  # started with --beheerder / REGIEBOT_CONSOLE_ADMIN=1: /als always works
        self.operator = operating_system_user()
        self.deliveries = deliveries
        self.inp = inp
        self.out = out
        self.files_dir = files_dir
        self.text = renderer("plain")

    # --- input and output ----------------------------------------------------------------

    async def read_line(self) -> str | None:
        if self.inp.isatty():
            self.out.write(self.text.text("console/prompt", naam=self.member.id) + " ")
            self.out.flush()
        line = await asyncio.to_thread(self.inp.readline)
        return None if line == "" else line.rstrip("\n")

    def say(self, message: Message) -> None:
        self.out.write(show(message) + "\n\n")
        self.out.flush()

    def say_text(self, template: str, **data: Any) -> None:
        self.say(Message(template, data))

    async def handle_result(self, result: Result | None) -> None:
        if result is None:
            return
        for message in result.replies:
            self.say(message)
            await audit.record_delivered(self.services, message)
        for attachment in await attachments(result.files):
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path = self.files_dir / attachment.filename
            path.write_bytes(attachment.content)
            self.say_text("console/bestand", titel=attachment.title, pad=str(path))
        await self.deliveries.deliver_all(result.outgoing)

    # --- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        self.say_text("console/welkom", **self._who(self.member))
        while (line := await self.read_line()) is not None:
            line = line.strip()
            if not line:
                continue
            if line in ("/stop", "/exit", "/quit"):
                break
            await self.handle_line(line)

    async def handle_line(self, line: str) -> None:
        """Hand one typed line to the text commands and print the answer."""
        words = split_words(line)
        if not words:
            return
        command, args = words[0].lower(), words[1:]
        if not command.startswith("/"):
            self.say_text("fout/onbekend_commando")
            return
        name = command[1:]
        purpose = f"knop {args[0]}" if name == "knop" and args else command
        self.services = self.base_services.asked("console", purpose, self.operator)
        try:
            own = self.own_commands().get(name)
            if own is not None:
                await self.handle_result(await own(args))
                return
            answer = await run_text(self.services, self.member, "help" if name == "start" else name,
                                    args, labels=self.text)
            await self.handle_result(await self.open_form(answer)
                                     if isinstance(answer, OpenForm) else answer)
        except CommandRefused as refusal:
            self.say(refusal.message)
        except FormInvalid as invalid:
            for message in invalid.errors.values():
                self.say(message)
        except FormCancelled:
            self.say_text("melding/geannuleerd")

    def own_commands(self) -> dict[str, Handler]:
        """The console's own commands; every other command is a text command."""
        return {"als": self.cmd_als, "knop": self.cmd_knop}

    async def open_form(self, form: OpenForm) -> Result | None:
        """Open the form a text command or a button asked for (the one place to do so)."""
        if form.name == "melding":
            return await self.cmd_melding([])
        if form.name == "besluit" and form.reference:
            # without choices the decision follows the majority of the votes
            return await besluit.record_decision(self.services, self.member, form.reference)
        command = FORM_COMMANDS.get(form.name, form.name)
        raise CommandRefused(f"gebruik/{command}")

    def _who(self, member: Member) -> dict[str, Any]:
        return {"naam": member.name, "rollen": list(member.roles),
                "partner": self.services.org.partner(member.partner).name}

    # --- the console's own commands --------------------------------------------------------

    async def cmd_als(self, args: list[str]) -> Result:
        """Act as another member: only on the demo database or when started as beheerder;
        every switch is recorded with the operating-system user."""
        found = self.services.org.member(args[0]) if args else None
        if found is None:
            raise CommandRefused("gebruik/als")
        ground = await audit.switch_ground(self.services, self.admin)
        await audit.record_role_switch(self.services, self.member, found, ground)
        self.member = found
        return Result().reply("audit/als_console", bediener=self.operator, grond=ground,
                              **self._who(found))

    async def cmd_knop(self, args: list[str]) -> Result | None:
        if len(args) < 1:
            raise CommandRefused("gebruik/knop")
        name, value = args[0], " ".join(args[1:])
        if name in FORM_BUTTONS:
            return await self.open_form(OpenForm(FORM_BUTTONS[name], value))
        return await perform(self.services, self.member, name, value)

    # --- the casusformulier ----------------------------------------------------------------

    async def cmd_melding(self, _args: list[str]) -> Result:
        melding.require_melder(self.services.org, self.member)
        self.say_text("melding/start")
        answers: dict[str, Any] = {}
        fields = melding_fields(self.services.org, self.member)
        await self.ask_fields(fields, answers, [f.name for f in fields])
        while True:
            try:
                check_form(self.services.org, self.member, answers, self.services.today())
            except FormInvalid as invalid:
                for message in invalid.errors.values():
                    self.say(message)
                await self.ask_fields(fields, answers, list(invalid.errors))
                continue
            self.say(self.summary(fields, answers))
            self.say_text("console/indienen")
            reply = (await self.read_line() or "/annuleer").strip().lower()
            if reply == "/annuleer":
                raise FormCancelled
            if reply in ("ja", "j", "indienen"):
                return await melding.file_melding(self.services, self.member, answers)
            await self.ask_fields(fields, answers, [f.name for f in fields if f.name == reply])

    async def ask_fields(self, fields: list[FormField], answers: dict[str, Any], names: list[str]) -> None:
        """Ask the named fields in form order; /terug goes one question back."""
        todo = [f for f in fields if f.name in names]
        index = 0
        while index < len(todo):
            form_field = todo[index]
            if not form_field.applies(answers):
                answers.pop(form_field.name, None)
                index += 1
                continue
            self.say(self.question(form_field))
            line = await self.read_line()
            if line is None or line.strip() == "/annuleer":
                raise FormCancelled
            if line.strip() == "/terug":
                index = max(0, index - 1)
                continue
            index += 1 if self.take_answer(form_field, line, answers) else 0

    def question(self, form_field: FormField) -> Message:
        choices = {c: self.choice_text(form_field, c) for c in form_field.choices}
        return Message("melding/vraag", {"veld": form_field.name, "verplicht": form_field.required,
                                         "keuzes": choices})

    def take_answer(self, form_field: FormField, line: str, answers: dict[str, Any]) -> bool:
        raw = self.interpret(form_field, line.strip())
        try:
            check_field(form_field, raw, self.services.today())
        except FieldProblem as problem:
            self.say(field_error(form_field, problem))
            return False
        answers[form_field.name] = raw
        return True

    def interpret(self, form_field: FormField, text: str) -> Any:
        """Choices may be typed as their number, their key or their text."""
        if form_field.kind == "multichoice":
            return [self.pick(form_field, part.strip()) for part in text.split(",") if part.strip()]
        if form_field.kind == "choice":
            return self.pick(form_field, text)
        return text

    def pick(self, form_field: FormField, text: str) -> str:
        if text.isdigit() and 1 <= int(text) <= len(form_field.choices):
            return form_field.choices[int(text) - 1]
        for choice in form_field.choices:
            if text.casefold() in (choice.casefold(), self.choice_text(form_field, choice).casefold()):
                return choice
        return text

    def choice_text(self, form_field: FormField, key: str) -> str:
        org = self.services.org
        if form_field.name == "corporatie":
            return org.partner(key).name
        if form_field.name == "regieteam":
            return org.regieteam(key).name
        if form_field.name == "wijk":
            return key if key != melding.UNKNOWN_WIJK else self.text.choice(key)
        return self.text.choice(key)

    def summary(self, fields: list[FormField], answers: dict[str, Any]) -> Message:
        lines = []
        for form_field in fields:
            if not form_field.applies(answers) or not answers.get(form_field.name):
                continue
            value = answers[form_field.name]
            if form_field.kind == "multichoice":
                value = ", ".join(self.choice_text(form_field, v) for v in value)
            elif form_field.kind == "choice":
                value = self.choice_text(form_field, value)
            lines.append({"label": self.text.label(f"veld.{form_field.name}"), "waarde": value})
        return Message("melding/samenvatting", {"regels": lines})


async def run_console(services: Services, member: Member, deliveries: Deliveries | None = None,
                      inp: TextIO = sys.stdin, out: TextIO = sys.stdout, *,
                      admin: bool = False) -> None:
    deliveries = deliveries or Deliveries()
    if not deliveries.couriers:
        deliveries.add(ConsoleCourier(services, out))
    await ConsoleChat(services, member, deliveries, inp, out, admin=admin).run()


__all__ = ["ConsoleChat", "indent", "run_console"]
