"""Block Kit limits: long messages are paged or cut, never rejected; the fake server really
checks what slack_sdk does not (the 50-block cap, modal title length)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import Deliveries
from bot.slack.courier import SlackCourier
from commands.context import Services
from commands.replies import Action, Message, Outgoing, to_member, to_partner, to_regieteam
from messages.slack import MAX_BLOCKS, SECTION_TEXT, slack_message, slack_pages, split_text
from tests.fakeslack import BOT_TOKEN, FakeSlack, all_text


def long_message(cases: int, actions: int = 0) -> Message:
    rows = [{"referentie": f"RT-2026-{n:04d}", "fase": "op_agenda <!here>",
             "ingediend": datetime(2026, 11, 1, tzinfo=UTC)} for n in range(cases)]
    buttons = tuple(Action("stem", f"RT-2026-{n:04d}|q1|ja", "actie.q1_ja") for n in range(actions))
    return Message("slack/home_melder", {"corporatie": "Talis & <b>", "casussen": rows}, buttons)


@pytest.fixture
async def client(fake_slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    yield AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)


def test_split_text_keeps_sections_within_limit() -> None:
    text = ("regel met &amp; een escape\n" * 400) + "x" * 7000
    chunks = split_text(text)
    assert all(len(c) <= SECTION_TEXT for c in chunks)
    assert all("&am" not in c[-4:] for c in chunks)
    assert "".join(c.replace("\n", "") for c in chunks).count("&amp;") == 400


def test_long_message_is_paged_and_cut_within_fifty_blocks() -> None:
    message = long_message(4000, actions=60)
    pages = slack_pages(message)
    assert len(pages) > 1
    assert all(len(p.blocks) <= MAX_BLOCKS for p in pages)
    assert all(p.blocks[-1]["type"] == "context" for p in pages)  # "deel x van y"
    assert sum(b["type"] == "actions" for p in pages for b in p.blocks) == 3  # 25 + 25 + 10
    single = slack_message(message)
    assert len(single.blocks) <= MAX_BLOCKS
    assert any(b["type"] == "context" for b in single.blocks)  # "ingekort"
    assert "<!here>" not in all_text(single.as_kwargs())
    assert "&lt;!here&gt;" in all_text(single.as_kwargs())


async def test_fake_server_rejects_what_slack_rejects(fake_slack: FakeSlack,
                                                      client: AsyncWebClient) -> None:
    blocks: list[dict[str, Any]] = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C1", text="x", blocks=blocks)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "x" * 25},
            "blocks": [{"type": "divider"}]}
    with pytest.raises(SlackApiError):
        await client.views_open(trigger_id="t", view=view)
    fake_slack.all_answered()
    problems = list(fake_slack.problems)
    fake_slack.problems.clear()
    assert any("51 blocks" in p for p in problems)
    assert any("title" in p for p in problems)


async def test_courier_pages_long_posts_and_cuts_updates(fake_slack: FakeSlack, services: Services,
                                                         client: AsyncWebClient) -> None:
    courier = SlackCourier(services, client, pace_seconds=0)
    message = long_message(4000, actions=30)
    await courier.deliver(Outgoing(to_regieteam("oost"), message, update_key="agenda:7"))
    await courier.deliver(Outgoing(to_regieteam("oost"), message, update_key="agenda:7"))
    await courier.deliver(Outgoing(to_partner("talis"), message))
    posts = fake_slack.of("chat.postMessage")
    assert len(fake_slack.of("chat.update")) == 1
    assert posts[0].args["channel"] == "C0REGIE"
    assert len([p for p in posts if p.args["channel"] == "C0TALIS"]) > 1
    assert not fake_slack.problems


async def test_personal_message_never_goes_to_a_channel(fake_slack: FakeSlack, services: Services,
                                                        client: AsyncWebClient) -> None:
    courier = SlackCourier(services, client, pace_seconds=0)
    deliveries = Deliveries([courier])
    personal = Message("gegevens/toon", {"referentie": "RT-2026-0001", "naam": "Jan",
                                         "adres": "Straat 1", "postcode": "1234 AB"}, personal=True)
    assert not courier.can_reach(Outgoing(to_regieteam("oost"), personal))
    await deliveries.deliver(Outgoing(to_member("dirk"), personal))
    assert [c.args["channel"] for c in fake_slack.of("chat.postMessage")] == ["DU0DIRK"]


async def test_posts_to_one_channel_are_paced(fake_slack: FakeSlack, services: Services,
                                              client: AsyncWebClient) -> None:
    courier = SlackCourier(services, client, pace_seconds=0.2)
    short = Message("slack/al_verwerkt")
    for _ in range(3):
        await courier.deliver(Outgoing(to_partner("talis"), short))
    times = [c.at for c in fake_slack.of("chat.postMessage")]
    assert times[2] - times[0] >= 0.38
