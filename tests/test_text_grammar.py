"""One text grammar for every door: choices by their visible label, members by name, dates as
the hints write them. The same typed scenario through the console, Slack (signed HTTP) and
Telegram (the fake Bot API) leaves the same stored result."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.console.chat import ConsoleChat
from bot.delivery import Deliveries
from bot.telegram import TelegramAdapter
from commands import agenda
from commands.context import Services
from commands.organisation import parse_organisation
from commands.replies import CommandRefused, OpenForm, Result
from commands.text import plan_text, run_text
from commands.validation import FieldProblem, parse_date
from messages.render import renderer
from store.models import Assignment, Case, Decision, PlanCondition, Vote
from tests.conftest import EXAMPLE_ORG, Clock, member
from tests.fakeslack import FakeSlack, SlackBot, all_text
from tests.faketelegram import FakeTelegram
from tests.helpers import file

REF = "RT-2026-0001"
TELEGRAM = {"anna": 5001, "carla": 5003, "dirk": 5004, "eva": 5005, "joost": 5010}
SLACK = {"anna": "U0ANNA", "carla": "U0CARLA", "dirk": "U0DIRK", "eva": "U0EVA",
         "joost": "U0JOOST"}
LABELS = renderer("plain")

# Who types what, after the melding is on the posted agenda (Regieteam Oost).
VOTES = [
    ("carla", "stem", f"{REF} q1 Ja"),
    ("carla", "stem", f"{REF} q3 nee"),
    ("carla", "stem", f"{REF} q2 schuldhulpverlening,budgetbeheer of bewindvoering"),
    ("dirk", "stem", f"{REF} q1 ja"),
    ("dirk", "stem", f"{REF} q3 Nee"),
    ("dirk", "stem", f"{REF} q2 Budgetbeheer of Bewindvoering, huisbezoek Eerst een gesprek"),
    ("eva", "stem", f"{REF} q1 ja"),
    ("eva", "stem", f"{REF} q3 nee"),
]
AFTER_THE_MEETING = [
    ("carla", "besluit", f"{REF} q1=ja q3=nee"),
    ("carla", "casemanager", f"{REF} Dirk Visser 1 maart 2027 4"),
    ("dirk", "terugkoppeling",
     f'{REF} "De lopende huur wordt weer betaald." huur=voldaan bevroren=niet voldaan'),
    ("carla", "sluit", f"{REF} Huurder blijft (betalingsregeling) De regeling loopt goed."),
]
EXPECTED = {
    "votes": [
        ("carla", "q1", "ja", ()), ("carla", "q2", None,
                                     ("budgetbeheer_bewindvoering", "schuldhulpverlening")),
        ("carla", "q3", "nee", ()),
        ("dirk", "q1", "ja", ()), ("dirk", "q2", None, ("budgetbeheer_bewindvoering", "huisbezoek")),
        ("dirk", "q3", "nee", ()),
        ("eva", "q1", "ja", ()), ("eva", "q3", "nee", ()),
    ],
    "decision": ("ja", "nee", ("budgetbeheer_bewindvoering", "huisbezoek", "schuldhulpverlening")),
    "assignment": ("dirk", date(2027, 3, 1), 4),
    "conditions": {"lopende_huur_betaald": "voldaan", "achterstand_bevroren": "niet_voldaan"},
    "case": ("gesloten", "blijft_betalingsregeling"),
}
Send = Callable[[str, str, str], Awaitable[str]]


def at(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour - 1, tzinfo=UTC)  # winter time


async def stored(services: Services) -> dict[str, Any]:
    async with services.sessions() as session:
        votes = (await session.scalars(select(Vote))).all()
        decision = await session.scalar(select(Decision).where(Decision.superseded_at.is_(None)))
        assignment = await session.scalar(select(Assignment))
        conditions = (await session.scalars(select(PlanCondition))).all()
        case = await session.scalar(select(Case))
    assert decision is not None and assignment is not None and case is not None
    return {
        "votes": sorted((v.member_id, v.question, v.choice, tuple(sorted(v.steps or ())))
                        for v in votes),
        "decision": (decision.q1, decision.q3, tuple(sorted(decision.q2_steps))),
        "assignment": (assignment.member_id, assignment.termijn, assignment.terugkoppeling_weeks),
        "conditions": {c.key: c.state for c in conditions if c.state != "open"},
        "case": (case.phase, case.outcome),
    }


async def walk_the_scenario(services: Services, clock: Clock, send: Send) -> list[str]:
    clock.set(at(11, 19, 10))
    await file(services)
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    answers = [await send(who, name, words) for who, name, words in VOTES]
    clock.set(at(11, 24, 11))
    answers += [await send(who, name, words) for who, name, words in AFTER_THE_MEETING]
    return answers


def check_answers(answers: list[str]) -> None:
    assert "vraag 2: schuldhulpverlening, budgetbeheer of bewindvoering" in answers[2]
    assert all(REF in answer for answer in answers), answers
    assert "Dirk Visser" in answers[-3] and "1 mrt 2027" in answers[-3]
    assert "is afgesloten" in answers[-1]


# --- the console -----------------------------------------------------------------------------


async def test_the_scenario_in_the_console(services: Services, clock: Clock) -> None:
    out = io.StringIO()
    chat = ConsoleChat(services, member(services.org, "anna"), Deliveries(), io.StringIO(), out,
                       admin=True)

    async def send(who: str, name: str, words: str) -> str:
        chat.member = member(services.org, who)
        start = out.tell()
        await chat.handle_line(f"/{name} {words}")
        return out.getvalue()[start:]

    answers = await walk_the_scenario(services, clock, send)
    check_answers(answers)
    assert await stored(services) == EXPECTED


# --- Slack -----------------------------------------------------------------------------------


async def test_the_scenario_on_slack(services: Services, clock: Clock, slack_bot: SlackBot,
                                     fake_slack: FakeSlack) -> None:
    async def send(who: str, name: str, words: str) -> str:
        before = len(fake_slack.of("response_url"))
        command, text = ("/terugkoppeling", words) if name == "terugkoppeling" else (
            "/regie", f"{name} {words}")
        status, body = await slack_bot.slash(SLACK[who], command, text)
        assert status == 200 and not body.strip(), body  # no typing mistake
        answers = await fake_slack.wait_for("response_url", before + 1)
        return all_text(answers[-1].args)

    answers = await walk_the_scenario(services, clock, send)
    check_answers(answers)
    await fake_slack.work_done()
    assert not fake_slack.of("views.open")  # typed in full: no form opened
    assert await stored(services) == EXPECTED


# --- Telegram --------------------------------------------------------------------------------


async def test_the_scenario_on_telegram(services: Services, clock: Clock, fake_telegram: FakeTelegram,
                                        telegram_bot: TelegramAdapter) -> None:
    async def send(who: str, name: str, words: str) -> str:
        mark = fake_telegram.mark()
        fake_telegram.send_text(TELEGRAM[who], f"/{name} {words}")
        answer = await fake_telegram.next_call("sendMessage", TELEGRAM[who], after=mark, contains=REF)
        return answer.text

    answers = await walk_the_scenario(services, clock, send)
    check_answers(answers)
    assert await stored(services) == EXPECTED


# --- the grammar itself ----------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["1 maart 2027", "01-03-2027", "1-3-2027", "2027-03-01",
                                   "1 mrt 2027", "1 mrt. 2027", "ma 1 mrt 2027", "1/3/2027",
                                   "maandag 1 maart 2027", "1e maart 2027", "1 Maart 2027"])
def test_every_date_the_hints_show(typed: str) -> None:
    assert parse_date(typed) == date(2027, 3, 1)


def test_a_date_that_does_not_exist_is_named_so() -> None:
    with pytest.raises(FieldProblem) as problem:
        parse_date("31 februari 2027")
    assert problem.value.template == "datum_bestaat_niet"


def plan(services: Services, who: str, line: str) -> Any:
    name, _, words = line.partition(" ")
    return plan_text(services, member(services.org, who), name, words.split(), LABELS)


def refusal(services: Services, who: str, line: str) -> str:
    with pytest.raises(CommandRefused) as refused:
        plan(services, who, line)
    return LABELS.render(refused.value.message)


async def test_choices_by_label_id_case_and_accents(services: Services) -> None:
    for typed in ("uitgezet zonder opvang", "Uitgezet_Zonder_Opvang", "UITGEZET ZONDER OPVANG"):
        assert plan(services, "carla", f"sluit {REF} {typed} Geen plek gevonden").name == "sluit"
    # a word that is part of one label picks it; part of several: the member hears which
    assert "meer dan één keuze: niet voldaan, niet van toepassing" in refusal(
        services, "dirk", f'terugkoppeling {REF} "Tekst van de terugkoppeling." huur=niet')
    text = refusal(services, "dirk", f'terugkoppeling {REF} "Tekst van de terugkoppeling." '
                                     "huur=misschien")
    assert "voldaan, niet voldaan" in text and "niet van toepassing" in text
    text = refusal(services, "carla", f"sluit {REF} weg ermee")
    assert "huurder blijft (betalingsregeling) (blijft_betalingsregeling)" in text
    text = refusal(services, "carla", f"stem {REF} q2 schuldhulp verlening")
    assert "budgetbeheer of bewindvoering" in text


async def test_members_by_name_first_name_id_and_mention(services: Services) -> None:
    for typed in ("Ilse", "ilse", "Ilse Kok", "ILSE KOK", "<@U0ILSE>", "@ilse"):
        form = plan(services, "gerrit", f"casemanager {REF} {typed}")
        assert form == OpenForm("casemanager", REF, {"casemanager": "ilse"}), typed
    assert "staat niet in de lijst" in refusal(services, "gerrit", f"casemanager {REF} Niemand")


async def test_an_ambiguous_name_is_refused_naming_the_options(services: Services) -> None:
    data = yaml.safe_load(EXAMPLE_ORG.read_text(encoding="utf-8"))
    data["members"] += [
        {"id": "sanne", "name": "Sanne de Boer", "partner": "buurtteam", "roles": ["casemanager"]},
        {"id": "sanne.j", "name": "Sanne Jansen", "partner": "shv", "roles": ["casemanager"]},
    ]
    org = parse_organisation(yaml.safe_dump(data, allow_unicode=True))
    with_sannes = Services(services.sessions, org, services.cipher, clock=services.clock)
    with pytest.raises(CommandRefused) as refused:
        plan_text(with_sannes, member(org, "carla"), "casemanager",
                  [REF, "Sanne", "1", "maart", "2027"], LABELS)
    text = LABELS.render(refused.value.message)
    assert "Sanne de Boer (sanne)" in text and "Sanne Jansen (sanne.j)" in text
    chosen = plan_text(with_sannes, member(org, "carla"), "casemanager",
                       [REF, "Sanne", "Jansen"], LABELS)
    assert chosen == OpenForm("casemanager", REF, {"casemanager": "sanne.j"})


async def test_words_that_ask_for_a_form(services: Services) -> None:
    assert plan(services, "carla", f"besluit {REF}") == OpenForm("besluit", REF)
    assert plan(services, "carla", f"sluit {REF}") == OpenForm("sluiten", REF)
    assert plan(services, "dirk", f"stem {REF} q2") == OpenForm("stappen", REF)
    # what was typed with it is filled in, under the form's own field names
    assert plan(services, "dirk", f"terugkoppeling {REF}") == OpenForm("terugkoppeling", REF, {})
    assert plan(services, "dirk", f"terugkoppeling {REF} termijn=houdt niet") == OpenForm(
        "terugkoppeling", REF, {"termijn_houdt": "nee"})
    assert plan(services, "anna", f"huishouden {REF}") == OpenForm("huishouden", REF)
    assert plan(services, "dirk", "uitstellen 12") == OpenForm("uitstellen", "12")
    assert plan(services, "anna", "melding") == OpenForm("melding")


async def test_usage_is_spelled_for_each_door(services: Services) -> None:
    with pytest.raises(CommandRefused) as refused:
        await run_text(services, member(services.org, "carla"), "sluit", [])
    message = refused.value.message
    assert "/sluit RT-2026-0001" in renderer("plain").render(message)
    assert "`/regie sluit RT-2026-0001`" in renderer("mrkdwn").render(message)
    answer = await run_text(services, member(services.org, "carla"), "help", [])
    assert isinstance(answer, Result) and answer.replies[0].template == "algemeen/help"
    with pytest.raises(CommandRefused) as refused:
        await run_text(services, member(services.org, "carla"), "vliegen", [])
    assert "`/regie help`" in renderer("mrkdwn").render(refused.value.message)
