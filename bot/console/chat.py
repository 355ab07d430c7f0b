"""A chat in the terminal that speaks to the same commands as Slack and Telegram.

It reads lines from standard input (a terminal or a pipe), so tests and demos can script
it. Replies to the member are printed plainly; posts to channels are printed with the
channel's name, and buttons are shown as commands one can type.
"""

from __future__ import annotations

import asyncio
import getpass
import shlex
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from bot.console.courier import ConsoleCourier, indent, show
from bot.console.forms import walk_form
from bot.delivery import Deliveries
from commands import (
    agenda,
    audit,
    besluit,
    casemanager,
    gegevens,
    huishouden,
    reminders,
    sluiten,
    stemmen,
    terugkoppeling,
    toelichting,
)
from commands.actions import perform
from commands.context import Services
from commands.forms import FORM_BUTTONS
from commands.organisation import Member
from commands.replies import CommandRefused, FormInvalid, Message, Result
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
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        command, args = words[0].lower(), words[1:]
        handler = self.handlers().get(command)
        if handler is None:
            self.say_text("fout/onbekend_commando")
            return
        purpose = f"knop {args[0]}" if command == "/knop" and args else command
        self.services = self.base_services.asked("console", purpose, self.operator)
        try:
            await self.handle_result(await handler(args))
        except CommandRefused as refusal:
            self.say(refusal.message)
        except FormInvalid as invalid:
            for message in invalid.errors.values():
                self.say(message)
        except FormCancelled:
            self.say_text("melding/geannuleerd")

    def handlers(self) -> dict[str, Handler]:
        return {
            "/help": self.cmd_help, "/start": self.cmd_help, "/regie": self.cmd_help,
            "/melding": self.cmd_melding, "/agenda": self.cmd_agenda, "/stem": self.cmd_stem,
            "/besluit": self.cmd_besluit, "/heropen": self.cmd_heropen,
            "/besluitenlijst": self.cmd_besluitenlijst, "/casemanager": self.cmd_casemanager,
            "/terugkoppeling": self.cmd_terugkoppeling, "/sluit": self.cmd_sluit,
            "/gegevens": self.cmd_gegevens, "/huishouden": self.cmd_huishouden,
            "/toelichting": self.cmd_toelichting,
            "/knop": self.cmd_knop, "/als": self.cmd_als,
            "/status": self.cmd_status, "/rapport": self.cmd_rapport,
            "/uitstellen": self.cmd_uitstellen, "/nazorg": self.cmd_nazorg,
            "/audit": self.cmd_audit,
        }

    def usage(self, command: str) -> Result:
        return Result().reply("console/gebruik", opdracht=f"/{command}",
                              gebruik=self.text.label(f"gebruik.{command}"))

    def _who(self, member: Member) -> dict[str, Any]:
        return {"naam": member.name, "rollen": list(member.roles),
                "partner": self.services.org.partner(member.partner).name}

    # --- commands ------------------------------------------------------------------------

    async def cmd_help(self, _args: list[str]) -> Result:
        return Result().reply("algemeen/help")

    async def cmd_als(self, args: list[str]) -> Result:
        """Act as another member: only on the demo database or when started as beheerder;
        every switch is recorded with the operating-system user."""
        found = self.services.org.member(args[0]) if args else None
        if found is None:
            return self.usage("als")
        ground = await audit.switch_ground(self.services, self.admin)
        await audit.record_role_switch(self.services, self.member, found, ground)
        self.member = found
        return Result().reply("audit/als_console", bediener=self.operator, grond=ground,
                              **self._who(found))

    async def cmd_audit(self, args: list[str]) -> Result:
        reference = args[0] if args and args[0].upper().startswith("RT-") else None
        dates = args[1:] if reference else args
        return await audit.export_audit(self.services, self.member, reference, _at(dates, 0),
                                        _at(dates, 1))

    async def cmd_agenda(self, args: list[str]) -> Result:
        if args[:1] == ["plaats"]:
            return await agenda.post_agenda(self.services, self.member, _at(args, 1))
        if args[:1] == ["spoed"] and len(args) == 2:
            return await agenda.add_urgent(self.services, self.member, args[1])
        return await agenda.show_agenda(self.services, self.member, _at(args, 0))

    async def cmd_stem(self, args: list[str]) -> Result:
        if len(args) < 3:
            return self.usage("stem")
        reference, question = args[0], args[1].lower()
        if question == "q2":
            steps = [s.strip() for s in args[2].split(",") if s.strip()]
            text = " ".join(args[3:]) or None
            return await stemmen.cast_vote(self.services, self.member, reference, "q2", steps=steps,
                                           steps_text=text)
        return await stemmen.cast_vote(self.services, self.member, reference, question, args[2].lower())

    async def cmd_besluit(self, args: list[str]) -> Result:
        if not args:
            return self.usage("besluit")
        options = _options(args[1:])
        steps = options.get("stappen")
        return await besluit.record_decision(
            self.services, self.member, args[0], q1=options.get("q1"), q3=options.get("q3"),
            q2_steps=[s for s in steps.split(",") if s] if steps is not None else None,
            q2_text=options.get("toelichting"), reason=options.get("reden"))

    async def cmd_heropen(self, args: list[str]) -> Result:
        if len(args) < 2:
            return self.usage("heropen")
        return await besluit.reopen_decision(self.services, self.member, args[0], " ".join(args[1:]))

    async def cmd_besluitenlijst(self, args: list[str]) -> Result:
        return await besluit.publish_besluitenlijst(self.services, self.member, _at(args, 0))

    async def cmd_casemanager(self, args: list[str]) -> Result:
        if len(args) < 3:
            return self.usage("casemanager")
        weeks = args[3] if len(args) > 3 else None
        return await casemanager.appoint(self.services, self.member, args[0], args[1], args[2], weeks)

    async def cmd_terugkoppeling(self, args: list[str]) -> Result:
        if len(args) < 2:
            return self.usage("terugkoppeling")
        options = _options(args[2:])
        holds = options.pop("termijn", "houdt") != "houdt_niet"
        new_termijn = options.pop("nieuwe_termijn", None)
        return await terugkoppeling.give_feedback(self.services, self.member, args[0], args[1], options,
                                                  termijn_holds=holds, new_termijn=new_termijn)

    async def cmd_sluit(self, args: list[str]) -> Result:
        if len(args) < 2:
            return self.usage("sluit")
        return await sluiten.close_with(self.services, self.member, args[0],
                                        sluiten.closing_from_words(args[1:]))

    async def cmd_huishouden(self, args: list[str]) -> Result:
        if len(args) < 2:
            return self.usage("huishouden")
        return await huishouden.correct_from_words(self.services, self.member, args)

    async def cmd_gegevens(self, args: list[str]) -> Result:
        if len(args) != 1:
            return self.usage("gegevens")
        return await gegevens.show_personal_data(self.services, self.member, args[0])

    async def cmd_toelichting(self, args: list[str]) -> Result:
        if len(args) != 1:
            return self.usage("toelichting")
        return await toelichting.show_free_text(self.services, self.member, args[0])

    async def cmd_knop(self, args: list[str]) -> Result | None:
        if len(args) < 1:
            return self.usage("knop")
        name, value = args[0], " ".join(args[1:])
        if name in FORM_BUTTONS:
            return await walk_form(self, FORM_BUTTONS[name], value)
        return await perform(self.services, self.member, name, value)

    async def cmd_uitstellen(self, args: list[str]) -> Result:
        if len(args) < 3:
            return self.usage("uitstellen")
        return await reminders.postpone_reminder(self.services, self.member, args[0], args[1],
                                                 " ".join(args[2:]))

    async def cmd_nazorg(self, args: list[str]) -> Result:
        if len(args) != 4 or not args[1].isdigit():
            return self.usage("nazorg")
        housed, paying = (answer.lower() in ("ja", "j") for answer in args[2:])
        return await reminders.answer_nazorg(self.services, self.member, args[0], int(args[1]),
                                             housed, paying)

    async def cmd_status(self, args: list[str]) -> Result:
        from commands import status

        if args and args[0].upper().startswith("RT-"):
            return await status.case_timeline(self.services, self.member, args[0])
        return await status.status_overview(self.services, self.member, full=args[:1] == ["volledig"])

    async def cmd_rapport(self, args: list[str]) -> Result:
        from commands import rapport

        return await rapport.rapport(self.services, self.member, _at(args, 0), _at(args, 1))

    # --- the casusformulier ----------------------------------------------------------------

    async def cmd_melding(self, _args: list[str]) -> Result | None:
        return await walk_form(self, "melding")


def _at(args: list[str], index: int) -> str | None:
    return args[index] if len(args) > index else None


def _options(args: list[str]) -> dict[str, str]:
    """key=value words; a word without '=' is ignored."""
    return dict(arg.split("=", 1) for arg in args if "=" in arg)


async def run_console(services: Services, member: Member, deliveries: Deliveries | None = None,
                      inp: TextIO = sys.stdin, out: TextIO = sys.stdout, *,
                      admin: bool = False) -> None:
    deliveries = deliveries or Deliveries()
    if not deliveries.couriers:
        deliveries.add(ConsoleCourier(services, out))
    await ConsoleChat(services, member, deliveries, inp, out, admin=admin).run()


__all__ = ["ConsoleChat", "indent", "run_console"]
