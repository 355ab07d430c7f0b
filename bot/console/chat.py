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

from bot.console.courier import ButtonBoard, ConsoleCourier, indent
from bot.console.forms import walk_form
from bot.delivery import Deliveries
from commands import audit, besluit
from commands.actions import perform
from commands.choices import pick_member
from commands.context import Services
from commands.forms import FORM_BUTTONS
from commands.organisation import Member
from commands.replies import CommandRefused, FormInvalid, Message, OpenForm, Result
from commands.text import run_text, split_words
from messages.files import attachments
from messages.render import renderer

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
        self.board = next((c.board for c in deliveries.couriers if isinstance(c, ConsoleCourier)),
                          ButtonBoard())

    # --- input and output ----------------------------------------------------------------

    async def read_line(self) -> str | None:
        if self.inp.isatty():
            self.out.write(self.text.text("console/prompt", naam=self.member.id) + " ")
            self.out.flush()
        line = await asyncio.to_thread(self.inp.readline)
        return None if line == "" else line.rstrip("\n")

    def say(self, message: Message) -> None:
        self.out.write(self.board.show(message) + "\n\n")
        self.out.flush()

    def say_text(self, template: str, **data: Any) -> None:
        self.say(Message(template, data))

    async def handle_result(self, result: Result | None) -> None:
        if result is None:
            return
        sending = await self.deliveries.send(self.services, result.outgoing)
        for message in result.replies_after(sending.complete):
            self.say(message)
            await audit.record_delivered(self.services, message)
        for attachment in await attachments(result.files):
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path = self.files_dir / attachment.filename
            path.write_bytes(attachment.content)
            self.say_text("console/bestand", titel=attachment.title, pad=str(path))

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
        if name == "knop" and len(args) == 1 and args[0].isdigit():
            args = self.button_words(int(args[0]))
            if not args:
                return
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
        if form.name == "besluit" and form.reference and not form.values:
            # typed with only the reference, the decision follows the majority of the votes
            return await besluit.record_decision(self.services, self.member, form.reference)
        return await walk_form(self, form.name, form.reference or "", dict(form.values))

    def _who(self, member: Member) -> dict[str, Any]:
        return {"naam": member.name, "rollen": list(member.roles),
                "partner": self.services.org.partner(member.partner).name}

    # --- the console's own commands --------------------------------------------------------

    def button_words(self, number: int) -> list[str]:
        """`/knop 3`: the name and value of the third button shown, or a word on what to type."""
        action = self.board.pressed(number)
        if action is None:
            self.say_text("console/knop_onbekend", nummer=number)
            return []
        return [action.name, action.value]

    async def cmd_als(self, args: list[str]) -> Result:
        """Act as another member, named as in every command (name, first name or id): only on
        the demo database or when started as beheerder; every switch is recorded with the
        operating-system user."""
        if not args:
            raise CommandRefused("gebruik/als")
        found = pick_member(self.services.org, " ".join(args))
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
            return await walk_form(self, FORM_BUTTONS[name], value)
        return await perform(self.services, self.member, name, value)

    # --- the casusformulier ----------------------------------------------------------------

    async def cmd_melding(self, _args: list[str]) -> Result | None:
        return await walk_form(self, "melding")


async def run_console(services: Services, member: Member, deliveries: Deliveries | None = None,
                      inp: TextIO = sys.stdin, out: TextIO = sys.stdout, *,
                      admin: bool = False) -> None:
    deliveries = deliveries or Deliveries()
    if not deliveries.couriers:
        deliveries.add(ConsoleCourier(services, out))
    await ConsoleChat(services, member, deliveries, inp, out, admin=admin).run()


__all__ = ["ConsoleChat", "indent", "run_console"]
