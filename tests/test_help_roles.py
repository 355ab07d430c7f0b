"""`/help` lists exactly the commands a member's roles may use, on every door, from the one
table of text commands."""

from __future__ import annotations

import io
import re

import pytest

from bot.console.chat import ConsoleChat
from bot.delivery import Deliveries
from bot.telegram import TelegramAdapter
from commands.context import Services
from commands.organisation import Member
from tests.conftest import member
from tests.fakeslack import SlackBot
from tests.faketelegram import FakeTelegram

EVERYONE = {"uitstellen", "help"}
MAY_USE: dict[str, set[str]] = {
    "melder": {"melding", "terugkoppeling", "sluit", "huishouden", "nazorg", "status", "gegevens",
               "toelichting", "notitie"},
    "lid": {"agenda", "stem", "terugkoppeling", "toelichting", "notitie"},
    "voorzitter": {"agenda", "stem", "besluit", "heropen", "besluitenlijst", "casemanager",
                   "spoed", "terugkoppeling", "sluit", "huishouden", "status", "gegevens",
                   "toelichting", "notitie", "rapport"},
    "casemanager": {"terugkoppeling", "status", "gegevens", "toelichting", "notitie"},
    "coordinator": {"agenda", "stem", "terugkoppeling", "sluit", "nazorg", "status", "gegevens",
                    "toelichting", "notitie", "rapport", "audit"},
    "admin": {"melding", "agenda", "nazorg", "status", "rapport"},
}
CONSOLE_OWN = {"als", "knop", "stop"}
TELEGRAM_OWN = {"terug", "annuleer"}


def expected(*roles: str) -> set[str]:
    return EVERYONE.union(*(MAY_USE[role] for role in roles))


def listed(text: str, prefix: str = "") -> set[str]:
    """The commands a help text lists: one per line, at its start."""
    return set(re.findall(rf"^{re.escape(prefix)}/(?:regie )?([a-z]+)", text, re.MULTILINE))


@pytest.mark.parametrize("role", sorted(MAY_USE))
async def test_console_help_per_role(services: Services, role: str) -> None:
    someone = Member(id=f"test_{role}", name="Test Persoon", partner="gemeente", roles=(role,))
    out = io.StringIO()
    chat = ConsoleChat(services, someone, Deliveries(), io.StringIO(), out)
    await chat.handle_line("/help")
    assert listed(out.getvalue()) == expected(role) | CONSOLE_OWN


async def test_console_help_for_several_roles(services: Services) -> None:
    out = io.StringIO()
    chat = ConsoleChat(services, member(services.org, "carla"), Deliveries(), io.StringIO(), out)
    await chat.handle_line("/help")
    assert listed(out.getvalue()) == expected("voorzitter", "lid") | CONSOLE_OWN


async def test_help_names_how_one_command_works(services: Services) -> None:
    out = io.StringIO()
    chat = ConsoleChat(services, member(services.org, "carla"), Deliveries(), io.StringIO(), out)
    await chat.handle_line("/help sluit")
    assert "Zo sluit je een casus: /sluit RT-2026-0001" in out.getvalue()


SLACK_MEMBERS = {"U0ANNA": ("melder",), "U0CARLA": ("voorzitter", "lid"),
                 "U0DIRK": ("lid", "casemanager"), "U0FATIMA": ("lid",),
                 "U0JOOST": ("coordinator", "admin")}


@pytest.mark.parametrize("user", sorted(SLACK_MEMBERS))
async def test_slack_help_per_member(slack_bot: SlackBot, user: str) -> None:
    status, text = await slack_bot.slash(user, "/regie", "help")
    assert status == 200
    assert listed(text, "`") == expected(*SLACK_MEMBERS[user])
    _, bare = await slack_bot.slash(user, "/regie", "")
    assert bare == text


TELEGRAM_MEMBERS = {5001: ("melder",), 5003: ("voorzitter", "lid"), 5004: ("lid", "casemanager"),
                    5010: ("coordinator", "admin")}


async def test_telegram_help_per_member(fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter) -> None:
    for user, roles in TELEGRAM_MEMBERS.items():
        mark = fake_telegram.mark()
        fake_telegram.send_text(user, "/help")
        answer = await fake_telegram.next_call("sendMessage", user, after=mark, contains="Wat kan ik")
        assert listed(answer.text) == expected(*roles) | TELEGRAM_OWN, user
