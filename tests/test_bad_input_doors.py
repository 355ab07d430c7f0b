"""The bad-input corpus through every door: the console chat, Slack over signed HTTP and the
Telegram private conversation. Every bad value gets the same clear Dutch refusal as the use
case gives, the rest of what was typed stays, nothing is stored, no HTTP 500 and no traceback
in the logs."""

from __future__ import annotations

import json
import logging
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import func, select

from commands.context import Services
from commands.forms import FORM_BUTTONS
from commands.melding import file_melding
from commands.replies import CommandRefused, FormInvalid, Message, OpenForm
from commands.text import run_text, split_words
from messages.render import renderer
from store.models import Case, FormDraft, NazorgCheck, Reminder
from tests.conftest import member
from tests.fakeslack import FakeSlack, SlackBot
from tests.faketelegram import FakeTelegram
from tests.helpers import valid_answers
from tests.test_forms_walker import Script
from tests.test_slack_melding import modal_values, open_melding
from tests.test_telegram_melding import q

HUGE = "9" * 30
MELDING_CORPUS = [
    ("achterstand_bedrag", "9" * 5000),
    ("achterstand_bedrag", "€ " + HUGE),
    ("achterstand_bedrag", "1.000" * 1000),
    ("achterstand_maanden", HUGE),
    ("zitting", "3" * 5000),
    ("voortraject", "Huisbezoek gedaan. " * 264),  # 5016 characters
]
MELDING_IDS = ["bedrag-5000", "bedrag-euro-30", "bedrag-punten", "maanden-30", "datum-5000",
               "tekst-5000"]
ODD_IDS = [HUGE, "2147483648", "-1", "0x10", "١٢٣"]
REMINDER_BUTTONS = ("herinnering_ontvangen", "herinnering_gedaan", "herinnering_uitstellen")
DOORS = ["console", "slack", "telegram"]
TELEGRAM_LIMIT = 4096
POSTPONE = ("15-01-2027", "Wacht op de schuldhulp.")  # within the 92 days a reminder may wait
# The casusformulier up to the voortraject, in order: a good answer for each question.
ORDER = ["wijk", "reden", "huishouden", "minderjarige_kinderen", "achterstand_bedrag",
         "achterstand_maanden", "dagvaarding", "zitting", "vonnis", "ontruiming", "voortraject",
         "onvoldoende"]
GOOD = {"wijk": "Oost", "reden": "huurachterstand", "huishouden": "gezin met minderjarige kinderen",
        "minderjarige_kinderen": "2", "achterstand_bedrag": "1.234,56", "achterstand_maanden": "3",
        "dagvaarding": "01-12-2026", "zitting": "15-12-2026", "vonnis": "", "ontruiming": "",
        "voortraject": "Betalingsregeling aangeboden, twee keer huisbezoek."}
TELEGRAM_USER = {"anna": 5001, "carla": 5003}
SLACK_USER = {"anna": "U0ANNA", "carla": "U0CARLA"}


@pytest.fixture(autouse=True)
def logs(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.INFO)
    yield caplog
    failures = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not failures, [f"{r.name}: {r.getMessage()[:200]}" for r in failures]
    assert "Traceback" not in caplog.text


def plain(message: Message) -> str:
    return renderer("plain").render(message)


def start_of(message: Message) -> str:
    """The part of a refusal every door shows alike (before any command is spelled)."""
    return plain(message).split("/")[0].split("`")[0][:60].strip()


async def count(services: Services, *models: type) -> int:
    total = 0
    async with services.transaction() as session:
        for model in models:
            total += int(await session.scalar(select(func.count()).select_from(model)) or 0)
    return total


async def use_case_refusal(services: Services, who: str, line: str) -> Message:
    """What the text command itself answers to `line`: the refusal every door must show."""
    words = split_words(line)
    try:
        answer = await run_text(services, member(services.org, who), words[0][1:], words[1:])
    except CommandRefused as refused:
        return refused.message
    assert isinstance(answer, OpenForm), answer
    raise AssertionError(f"{line[:60]} was not refused")


# --- the casusformulier ------------------------------------------------------------------------


async def melding_refusal(services: Services, field: str, value: str) -> Message:
    """What the use case answers to this value: the refusal every door must show."""
    with pytest.raises(FormInvalid) as caught:
        await file_melding(services, member(services.org, "anna"), valid_answers(**{field: value}))
    return caught.value.errors[field]


async def melding_on_console(services: Services, field: str, value: str) -> str:
    before = [GOOD[f] for f in ORDER[:ORDER.index(field)]]
    said = await Script(services, "anna").run("/melding", *before, value, GOOD[field], "/annuleer")
    label = renderer("plain").label(f"veld.{field}")
    refused_at = said.index(plain(await melding_refusal(services, field, value)))
    assert label in said[refused_at:], "the same question is asked again"
    after = renderer("plain").label(f"veld.{ORDER[ORDER.index(field) + 1]}")
    assert after in said[refused_at:], "the good answer is taken and the form goes on"
    return said


async def melding_on_slack(services: Services, slack_bot: SlackBot, field: str, value: str) -> None:
    view = await open_melding(slack_bot)
    status, answer = await slack_bot.submit("U0ANNA", view, {**modal_values(), field: value})
    assert status == 200 and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {field}
    assert answer["errors"][field].startswith(plain(await melding_refusal(services, field, value))[:100])


async def melding_on_telegram(services: Services, fake: FakeTelegram, field: str, value: str) -> None:
    user = TELEGRAM_USER["anna"]
    mark = fake.mark()
    fake.send_text(user, "/melding")
    question = await fake.next_call("sendMessage", user, after=mark, contains=q("wijk"))
    for name, following in pairwise(ORDER):
        if name == field:
            break
        mark = fake.mark()
        if name == "huishouden":
            question = await fake.pick(user, question, GOOD[name], q(following))
            continue
        if name in ("wijk", "reden", "vonnis", "ontruiming"):
            fake.tap(user, question, GOOD[name] or "Overslaan")
        else:
            fake.send_text(user, GOOD[name])
        question = await fake.next_call("sendMessage", user, after=mark, contains=q(following))
    value = value[:TELEGRAM_LIMIT]  # Telegram delivers no longer message than this
    expected = renderer("html").render(await melding_refusal(services, field, value))
    mark = fake.mark()
    fake.send_text(user, value)
    refusal = await fake.next_call("sendMessage", user, after=mark, contains=expected[:80])
    await fake.next_call("sendMessage", user, after=fake.calls.index(refusal) + 1, contains=q(field))
    mark = fake.mark()
    fake.send_text(user, GOOD[field])  # what was answered before still stands: the form goes on
    await fake.next_call("sendMessage", user, after=mark,
                         contains=q(ORDER[ORDER.index(field) + 1]))
    mark = fake.mark()
    fake.send_text(user, "/annuleer")
    await fake.next_call("sendMessage", user, after=mark, contains="niets opgeslagen")


@pytest.mark.parametrize(("field", "value"), MELDING_CORPUS, ids=MELDING_IDS)
async def test_a_bad_melding_answer_is_refused_on_every_door(
    services: Services, door: Door, field: str, value: str
) -> None:
    if door.kind == "console":
        said = await melding_on_console(services, field, value)
        assert value not in said
    elif door.kind == "slack":
        await melding_on_slack(services, door.slack, field, value)
    else:
        await melding_on_telegram(services, door.telegram, field, value)
    assert await count(services, Case, FormDraft) == 0


# --- ids, references and long messages ---------------------------------------------------------


class Door:
    """One door, driven as its platform drives it; every call returns what the bot said."""

    def __init__(self, kind: str, services: Services, request: pytest.FixtureRequest) -> None:
        self.kind, self.services = kind, services
        if kind == "slack":
            self.slack: SlackBot = request.getfixturevalue("slack_bot")
            self.fake_slack: FakeSlack = request.getfixturevalue("fake_slack")
        if kind == "telegram":
            request.getfixturevalue("telegram_bot")
            self.telegram: FakeTelegram = request.getfixturevalue("fake_telegram")

    async def type(self, who: str, line: str, expect: str) -> str:
        """Type `line` (a text command as the console and Telegram spell it)."""
        if self.kind == "console":
            said = await Script(self.services, who).run(line)
            assert expect in said, said[:500]
            return said
        if self.kind == "telegram":
            user = TELEGRAM_USER[who]
            mark = self.telegram.mark()
            self.telegram.send_text(user, line)
            return (await self.telegram.next_call("sendMessage", user, after=mark,
                                                  contains=expect)).text
        name, _, rest = line[1:].partition(" ")
        own = name in ("melding", "agenda", "status", "terugkoppeling", "regie")
        return await self._slack(lambda: self.slack.slash(
            SLACK_USER[who], f"/{name}" if own else "/regie", rest if own else f"{name} {rest}"),
            expect)

    async def press(self, who: str, name: str, value: str, expect: str) -> str:
        """Press the button `name` with `value`, as a forged but well-signed request would. A
        button that opens a form (Uitstellen) opens it on every door; the refusal comes when
        the form is sent."""
        form = name in FORM_BUTTONS
        if self.kind == "console":
            said = await Script(self.services, who).run(f"/knop {name} {value}",
                                                        *(POSTPONE if form else ()))
            assert expect in said and (not form or "Tot wanneer" in said), said[:500]
            return said
        if self.kind == "telegram":
            return await self._tap(who, name, value, expect, form)
        button = {"action_id": f"regie|{name}|0", "value": value,
                  "text": {"type": "plain_text", "text": name}}
        click = self.slack.click(SLACK_USER[who], button, channel=f"D{SLACK_USER[who]}")
        if not form:
            return await self._slack(lambda: click, expect)
        await self._slack(lambda: click, "Tot wanneer")
        return await self._slack(lambda: self._submitted(
            who, self.fake_slack.last_view(FORM_BUTTONS[name])), expect)

    async def _tap(self, who: str, name: str, value: str, expect: str, form: bool) -> str:
        fake, user = self.telegram, TELEGRAM_USER[who]
        mark = fake.mark()
        fake.send_text(user, "/help")
        shown = await fake.next_call("sendMessage", user, after=mark)
        mark = fake.mark()
        fake.queue(fake.callback_update(user, fake.message_of(shown), f"a|{name}|{value}"))
        for answer, asked in zip(POSTPONE if form else (), ("Tot wanneer", "Waarom"), strict=False):
            await fake.next_call("sendMessage", user, after=mark, contains=asked)
            mark = fake.mark()
            fake.send_text(user, answer)
        return str(await fake.wait_for(lambda: next(
            (c.text for c in fake.calls[mark:] if expect in c.text
             and c.method in ("sendMessage", "answerCallbackQuery")), None), what=expect))

    async def _submitted(self, who: str, form: dict[str, Any]) -> tuple[int, str]:
        status, answer = await self.slack.submit(
            SLACK_USER[who], form, {"datum": "2027-01-15", "reden": POSTPONE[1]})
        return status, json.dumps(answer, ensure_ascii=False)

    async def _slack(self, send: Any, expect: str) -> str:
        mark = len(self.fake_slack.of(*SLACK_ANSWERS))
        status, body = await send()
        assert status == 200, body[:300]
        await self.fake_slack.work_done()
        said = body + "".join(json.dumps(c.args, ensure_ascii=False)
                              for c in self.fake_slack.of(*SLACK_ANSWERS)[mark:])
        assert expect in said.replace("&amp;", "&"), said[:500]
        assert not self.fake_slack.problems, self.fake_slack.problems
        return said


SLACK_ANSWERS = ("response_url", "chat.postEphemeral", "chat.postMessage", "views.open")


@pytest.fixture(params=DOORS)
def door(request: pytest.FixtureRequest, services: Services) -> Door:
    """Each test once per door; the platform's fake and the bot start only for that door."""
    return Door(request.param, services, request)


@pytest.mark.parametrize("value", ODD_IDS, ids=["30-cijfers", "int32-plus-een", "min-een", "hex",
                                               "arabische-cijfers"])
async def test_an_odd_id_is_refused_on_every_door(services: Services, door: Door,
                                                  value: str) -> None:
    lines = [("carla", f"/uitstellen {value} {' '.join(POSTPONE)}"),
             ("anna", f"/nazorg RT-2026-0001 {value} ja ja")]
    for who, line in lines:
        await door.type(who, line, start_of(await use_case_refusal(services, who, line)))
    not_found = start_of(Message("herinnering/niet_gevonden"))
    for name in REMINDER_BUTTONS:
        await door.press("carla", name, value, not_found)
    await door.press("anna", "nazorg_beantwoorden", f"RT-2026-0001:{value}:ja:ja", not_found)
    assert await count(services, Case, Reminder, NazorgCheck) == 0


async def test_huge_references_and_long_messages_are_refused_on_every_door(
    services: Services, door: Door
) -> None:
    lines = ["/status RT-2026-999999999999", "/stem RT-2026-99999999999999999999 q1 ja",
             f"/uitstellen RT-2026-{HUGE} {' '.join(POSTPONE)}"]
    lines.append("/regie " + " ".join(["woord"] * 5000) if door.kind == "slack"
                 else ("/status " + "RT-2026-0001 " * 400)[:TELEGRAM_LIMIT])
    for line in lines:
        await door.type("carla", line, start_of(await use_case_refusal(
            services, "carla", line.replace("/regie ", "/"))))
    assert await count(services, Case, Reminder) == 0


def test_a_huge_amount_does_not_end_the_console(tmp_path: Any) -> None:
    from tests.test_console import run_console

    script = "\n".join(["/melding", "Oost", "1", "1", "2", "9" * 5000, "€ 850", HUGE, "3",
                        "/annuleer", "/help", "/stop"]) + "\n"
    output = run_console(tmp_path, script)  # exits with 0, or fails
    assert "te lang voor een bedrag" in output and "veel te groot" in output
    assert "Wat kan ik" in output and "Traceback" not in output
