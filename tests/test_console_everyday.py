"""What a new user types in the console, without internal ids: buttons pressed by the number
shown beside them, members named by name, and a reminder postponed by its case."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from bot.console.chat import ConsoleChat
from bot.console.courier import ButtonBoard, ConsoleCourier
from bot.delivery import Deliveries
from bot.telegram import TelegramAdapter
from commands import agenda
from commands.context import Services
from commands.replies import Action, Message
from commands.words import ReminderKind
from store.models import Reminder, Vote
from tests.conftest import Clock, member
from tests.faketelegram import FakeTelegram
from tests.helpers import file
from tests.reminders_support import appoint, new_case, reminders_of

BUTTON = re.compile(r"^\s*\[(?P<label>[^\]]+)\] (?P<command>/knop \S+)$", re.MULTILINE)


class Console:
    """One console chat as a member, its output kept; channel posts are printed too."""

    def __init__(self, services: Services, who: str, tmp_path: Path) -> None:
        self.out = io.StringIO()
        deliveries = Deliveries([ConsoleCourier(services, self.out)])
        self.chat = ConsoleChat(services, member(services.org, who), deliveries, io.StringIO(""),
                                self.out, files_dir=tmp_path, admin=True)

    async def type(self, line: str, *answers: str) -> str:
        self.chat.inp = io.StringIO("".join(f"{a}\n" for a in answers))
        start = self.out.tell()
        await self.chat.handle_line(line)
        return self.out.getvalue()[start:]


def buttons(output: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for match in BUTTON.finditer(output):
        found.setdefault(match["label"], []).append(match["command"])
    return found


async def test_buttons_are_pressed_by_their_number(services: Services, clock: Clock,
                                                   tmp_path: Path) -> None:
    clock.set(datetime(2026, 11, 19, 9, tzinfo=UTC))
    ref = str((await file(services, "anna")).value)
    console = Console(services, "carla", tmp_path)
    posted = await console.type("/agenda plaats")

    shown = buttons(posted)
    assert "1: ja" in shown and all(re.fullmatch(r"/knop \d+", c) for cs in shown.values() for c in cs)
    assert "|" not in "".join(line for line in posted.splitlines() if "/knop" in line)
    assert ref not in "".join(line for line in posted.splitlines() if "/knop" in line)

    await console.type(shown["1: ja"][0])  # the first case's first question: q1, ja
    async with services.sessions() as session:
        votes = (await session.scalars(select(Vote))).all()
    assert [(v.member_id, v.question, v.choice) for v in votes] == [("carla", "q1", "ja")]


def test_a_button_shown_again_keeps_its_number() -> None:
    board = ButtonBoard()
    message = Message("console/knop_onbekend", {"nummer": 1}, actions=(Action("stem", "RT-2026-0001|q1|ja", "stem.ja"),
                                                 Action("stem", "RT-2026-0001|q1|nee", "stem.nee")))
    first, again = board.show(message), board.show(message)
    assert buttons(first) == buttons(again) and "/knop 2" in first
    assert board.pressed(2) == message.actions[1] and board.pressed(3) is None


async def test_an_unknown_button_number_says_what_to_type(services: Services,
                                                          tmp_path: Path) -> None:
    said = await Console(services, "carla", tmp_path).type("/knop 99")
    assert "Knop 99 ken ik niet" in said and "/knop 1" in said


async def test_als_takes_a_name_first_name_or_id(services: Services, tmp_path: Path) -> None:
    console = Console(services, "anna", tmp_path)
    assert "Carla Smit" in await console.type("/als Carla")
    assert console.chat.member.id == "carla"
    await console.type("/als Dirk Visser")
    assert console.chat.member.id == "dirk"
    await console.type("/als eva")
    assert console.chat.member.id == "eva"
    said = await console.type("/als Niemand")
    assert "Niemand staat niet in de lijst" in said and console.chat.member.id == "eva"


async def test_uitstellen_by_case_and_kind(services: Services, clock: Clock,
                                           tmp_path: Path) -> None:
    clock.set(datetime(2026, 12, 1, 9, tzinfo=UTC))
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2027, 1, 26))
    dirk = Console(services, "dirk", tmp_path)

    # Dirk gets a termijn and a terugkoppeling reminder for this case: he says which
    said = await dirk.type(f"/uitstellen {case.reference}")
    assert "lopen meer herinneringen" in said and "termijn, terugkoppeling" in said
    assert f"/uitstellen {case.reference} termijn" in said

    said = await dirk.type(f"/uitstellen {case.reference} terugkoppeling 15 januari 2027 "
                           "Wacht op de schuldhulp.")
    assert "uitgesteld" in said, said
    rows = await reminders_of(services, case.id)
    postponed = [r for r in rows if r.postponed_to is not None]
    assert [(r.kind, r.target_member_id) for r in postponed] == [
        (ReminderKind.TERUGKOPPELING, "dirk")]

    # the form, opened by the case and kind, asks the date and the reason
    said = await dirk.type(f"/uitstellen {case.reference} termijn", "20-01-2027",
                           "Eerst de nieuwe regeling afwachten.")
    assert "uitgesteld" in said, said
    async with services.sessions() as session:
        termijn = (await session.scalars(select(Reminder).where(
            Reminder.case_id == case.id, Reminder.kind == ReminderKind.TERMIJN,
            Reminder.target_member_id == "dirk", Reminder.postponed_to.is_not(None)))).all()
    assert termijn


async def test_uitstellen_for_a_case_without_your_reminders(services: Services, clock: Clock,
                                                            tmp_path: Path) -> None:
    clock.set(datetime(2026, 11, 19, 9, tzinfo=UTC))
    ref = str((await file(services, "anna")).value)
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    said = await Console(services, "eva", tmp_path).type(f"/uitstellen {ref}")
    assert f"Voor {ref} staat geen herinnering open die jij kunt uitstellen" in said
    said = await Console(services, "eva", tmp_path).type("/uitstellen RT-2026-9999")
    assert "Ik ken geen casus met referentie RT-2026-9999" in said


async def test_uitstellen_by_case_on_telegram(services: Services, clock: Clock,
                                              fake_telegram: FakeTelegram,
                                              telegram_bot: TelegramAdapter) -> None:
    clock.set(datetime(2026, 12, 1, 9, tzinfo=UTC))
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2027, 1, 26))
    dirk = services.org.member("dirk")
    assert dirk is not None and dirk.telegram_user is not None
    mark = fake_telegram.mark()
    fake_telegram.send_text(dirk.telegram_user, f"/uitstellen {case.reference} terugkoppeling")
    await fake_telegram.next_call("sendMessage", dirk.telegram_user, after=mark,
                                  contains="Tot wanneer")
    for answer, expect in (("15-01-2027", "Waarom"), ("Wacht op de schuldhulp.", "uitgesteld")):
        mark = fake_telegram.mark()
        fake_telegram.send_text(dirk.telegram_user, answer)
        await fake_telegram.next_call("sendMessage", dirk.telegram_user, after=mark, contains=expect)
    postponed = [(r.kind, r.target_member_id) for r in await reminders_of(services, case.id)
                 if r.postponed_to is not None]
    assert postponed == [(ReminderKind.TERUGKOPPELING, "dirk")]
