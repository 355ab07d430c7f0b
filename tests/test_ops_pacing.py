"""Slack's per-channel rate (about one message per second) holds across bot processes: the
posting slots are reserved in the database. Two couriers with their own engine (as two
replicas have) post to one channel at the same time; the fake Slack sees the posts paced."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.courier import SlackCourier
from commands.context import Services
from commands.replies import Message, Outgoing, to_partner
from store.db import make_engine, make_sessionmaker
from tests.conftest import Database
from tests.fakeslack import BOT_TOKEN, FakeSlack

PACE = 0.3


async def test_two_replicas_together_keep_the_pace_of_one_channel(
    fake_slack: FakeSlack, services: Services, database: Database
) -> None:
    engine = make_engine(database.url)
    other = replace(services, sessions=make_sessionmaker(engine))
    couriers = [SlackCourier(svc, AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url),
                             pace_seconds=PACE) for svc in (services, other)]
    short = Outgoing(to_partner("talis"), Message("slack/al_verwerkt"))
    for courier in couriers:  # connections open, so network set-up does not blur the times
        await courier.client.auth_test()
    try:
        await asyncio.gather(*(courier.deliver(short) for courier in couriers for _ in range(3)))
    finally:
        await engine.dispose()
    times = sorted(call.at for call in fake_slack.of("chat.postMessage"))
    assert len(times) == 6
    gaps = [round(later - earlier, 3) for earlier, later in itertools.pairwise(times)]
    # A pace per process would post both threes side by side within 2 x PACE; one shared pace
    # puts the six in a row, 5 x PACE from first to last (less a margin for network jitter).
    assert times[-1] - times[0] >= 4 * PACE, gaps


async def test_another_channel_is_not_held_up(
    fake_slack: FakeSlack, services: Services
) -> None:
    courier = SlackCourier(services, AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url),
                           pace_seconds=30)
    await courier.deliver(Outgoing(to_partner("talis"), Message("slack/al_verwerkt")))
    await courier.deliver(Outgoing(to_partner("portaal"), Message("slack/al_verwerkt")))
    channels = [call.args["channel"] for call in fake_slack.of("chat.postMessage")]
    assert channels == ["C0TALIS", "C0PORTAAL"]
