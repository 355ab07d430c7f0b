"""User text in Teams shows literally and mentions no one, over real HTTP against the fake
connector: `<at>…</at>`, "@everyone"-like words, Adaptive Card JSON and markdown links typed
into a form come back escaped in the 1:1 answer that shows them, stay an inert input value on
a form card shown again, and never reach a channel reply. The bot makes no mention entity
from user text."""

from __future__ import annotations

import html
import re
from typing import Any

from bot.teams import TeamsAdapter
from commands.context import Services
from tests.conftest import Clock
from tests.faketeams import Call, FakeTeams, fake_teams, fill, inputs, teams_bot, teams_deliveries
from tests.helpers import valid_answers
from tests.reminders_support import ams
from tests.test_teams_flow import OOST, USERS, in_a_channel, in_channel, org

__all__ = ["fake_teams", "org", "teams_bot", "teams_deliveries"]  # fixtures

REF = "RT-2026-0001"
HOSTILE = ('Huisbezoek gedaan. <at>Dirk</at> @everyone @Regieteam Oost '
           '{"type":"Action.OpenUrl","title":"Klik","url":"https://x.test"} ]} '
           '[klik hier](https://x.test/a) **vet** <b>x</b> &amp; <a href="https://x.test">y</a>')
# what the user typed that must never work as markup, mention or card element
FRAGMENTS = ("Dirk", "@everyone", "Action.OpenUrl", "x.test", "klik hier")
TAGS_OF_THE_BOT = {"b", "br"}  # the only markup the bot itself puts in a text


def chat(name: str) -> str:
    return f"a:1on1-{USERS[name]}"


def tags(text: str) -> set[str]:
    """The markup Teams would see in a `textFormat: xml` text."""
    return {name.lower() for name in re.findall(r"<\s*/?\s*([A-Za-z][\w:-]*)", text)}


def mention_entities(call: Call) -> list[dict[str, Any]]:
    inner = call.body.get("activity") if "activity" in call.body else call.body
    return [e for e in (inner or {}).get("entities") or [] if e.get("type") == "mention"]


def walk(value: Any) -> list[dict[str, Any]]:
    """Every object in a card, at any depth."""
    if isinstance(value, dict):
        return [value, *(found for item in value.values() for found in walk(item))]
    if isinstance(value, list):
        return [found for item in value for found in walk(item)]
    return []


async def open_melding(fake: FakeTeams) -> Call:
    mark = fake.mark()
    assert await fake.send(fake.activity(USERS["anna"], "melding", conversation=chat("anna"))) \
        == 200
    opened = await fake.next_call(lambda c: c.card is not None, after=mark)
    assert opened.card is not None
    return opened


async def submit(fake: FakeTeams, shown: Call, card_id: str | None,
                 answers: dict[str, Any]) -> Call:
    assert shown.card is not None and card_id
    mark = fake.mark()
    activity = fake.activity(USERS["anna"], conversation=chat("anna"),
                             value=fill(shown.card, answers), reply_to=card_id)
    assert await fake.send(activity) == 200
    return await fake.next_call(lambda c: c.method == "PUT" and c.activity == card_id,
                                after=mark)


async def test_typed_markup_shows_literally_in_the_private_answer(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, clock: Clock,
) -> None:
    fake = fake_teams
    clock.set(ams(2026, 11, 19, 9))
    opened = await open_melding(fake)
    done = await submit(fake, opened, opened.made,
                        valid_answers(voortraject=HOSTILE, zitting="2026-12-15"))
    assert done.card is None and REF in done.text

    mark = fake.mark()
    assert await fake.send(fake.activity(USERS["carla"], f"toelichting {REF}",
                                         conversation=chat("carla"))) == 200
    answer = await fake.next_call(lambda c: "Huisbezoek" in c.text, after=mark)
    assert answer.conversation is not None and answer.conversation.startswith(chat("carla"))
    # every character as typed, escaped once: Teams shows it, and none of it is markup
    assert html.escape(HOSTILE, quote=False) in answer.text
    assert tags(answer.text) <= TAGS_OF_THE_BOT
    assert '{"type":"Action.OpenUrl","title":"Klik","url":"https://x.test"}' in answer.text
    assert "[klik hier](https://x.test/a) **vet**" in answer.text
    assert mention_entities(answer) == [] and "attachments" not in answer.body

    # and nothing of it went anywhere else: no channel post, no mention, no card
    for call in fake.calls:
        assert mention_entities(call) == []
        if in_a_channel(call):
            for fragment in FRAGMENTS:
                assert fragment not in str(call.body)
        for element in walk(call.body.get("attachments") or []):
            assert element.get("type") != "Action.OpenUrl" and "url" not in element


async def test_typed_card_json_stays_a_value_on_the_card_shown_again(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, clock: Clock,
) -> None:
    fake = fake_teams
    clock.set(ams(2026, 11, 19, 9))
    opened = await open_melding(fake)
    assert opened.card is not None
    first = opened.card
    typed = valid_answers(voortraject=HOSTILE, onvoldoende=HOSTILE, zitting="2026-11-10")
    again = await submit(fake, opened, opened.made, typed)  # the hearing is in the past
    card = again.card
    assert card is not None
    shown = inputs(card)
    assert shown["voortraject"]["value"] == HOSTILE and shown["onvoldoende"]["value"] == HOSTILE
    # the same card as before, plus the error texts: no element and no action was added
    assert [a["type"] for a in card["actions"]] == ["Action.Submit"]
    assert card["actions"][0]["data"] == first["actions"][0]["data"]
    assert list(inputs(card)) == list(inputs(first))
    assert {e["type"] for e in card["body"]} <= {"TextBlock", *(i["type"] for i in shown.values())}
    for element in walk(card):
        assert element.get("type") != "Action.OpenUrl" and "url" not in element
    for block in card["body"]:
        if block["type"] == "TextBlock":
            for fragment in FRAGMENTS:
                assert fragment not in block["text"]
    assert mention_entities(again) == []


async def test_mentions_and_markup_in_a_channel_are_not_echoed(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, clock: Clock,
) -> None:
    """`@regiebot` followed by user text (with a real mention of Dirk as Teams sends it):
    the bot answers in the thread without any of that text and mentions no one."""
    fake = fake_teams
    clock.set(ams(2026, 11, 19, 9))
    for said in (HOSTILE, f"melding {HOSTILE}", f"toelichting {HOSTILE}", f"status {HOSTILE}",
                 f"stem {REF} q1 {HOSTILE}", f"xyzzy{HOSTILE}"):
        mark = fake.mark()
        activity = in_channel(fake, "carla", said, mention=True)
        activity["entities"].append({"type": "mention", "text": "<at>Dirk</at>",
                                     "mentioned": {"id": USERS["dirk"], "name": "Dirk"}})
        assert await fake.send(activity) == 200
        answer = await fake.next_call(lambda c: bool(c.text), after=mark)
        assert answer.conversation is not None and answer.conversation.startswith(OOST)
        for call in fake.calls[mark:]:
            assert mention_entities(call) == []
            assert tags(call.text) <= TAGS_OF_THE_BOT
            for fragment in FRAGMENTS:
                assert fragment not in str(call.body), (said, call.body)
