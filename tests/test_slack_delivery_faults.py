"""Slack faults at the network edge: plain-text 500s, answers after the timeout, dropped
connections. A failure is always a DeliveryFailed (so it is retried and reported), and a
message whose answer came too late is not posted a second time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import Deliveries, DeliveryFailed
from bot.slack.courier import SlackCourier, make_web_client
from commands.context import Services
from commands.reminders import backoff, dispatch_due
from commands.replies import Message, Outgoing, to_partner
from tests.conftest import Clock
from tests.fakeslack import BOT_TOKEN, FakeSlack
from tests.reminders_support import ams, appoint, new_case, reminders_of

TIMEOUT = 1  # the client's timeout; the fake answers later than this when asked to
TALIS = "C0TALIS"


@pytest.fixture
async def client(fake_slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    yield make_web_client(BOT_TOKEN, fake_slack.api_url, timeout=TIMEOUT)


def reminder(n: int, text: str = "Termijn RT-2026-0001") -> Outgoing:
    return Outgoing(to_partner("talis"), Message("slack/home_welkom", {"naam": text}),
                    update_key=f"reminder:{n}")


async def test_plain_text_500_is_a_delivery_failure(
        fake_slack: FakeSlack, services: Services, client: AsyncWebClient) -> None:
    courier = SlackCourier(services, client, pace_seconds=0)
    fake_slack.fail("chat.postMessage", status=500, body="Internal Server Error")
    with pytest.raises(DeliveryFailed, match="HTTP 500"):
        await courier.deliver(reminder(1))
    await courier.deliver(reminder(1))
    assert len(fake_slack.posted[TALIS]) == 1


@pytest.mark.parametrize("fault", ["late", "drop", "500"])
async def test_an_unclear_answer_is_not_posted_twice(
        fault: str, fake_slack: FakeSlack, services: Services, client: AsyncWebClient) -> None:
    courier = SlackCourier(services, client, pace_seconds=0)
    if fault == "late":
        fake_slack.answer_late("chat.postMessage", seconds=TIMEOUT * 3)
    elif fault == "drop":
        fake_slack.drop("chat.postMessage")
    with pytest.raises(DeliveryFailed):
        if fault == "500":  # Slack failed after storing: the message is there all the same
            fake_slack.answer_late("chat.postMessage", seconds=0)
            fake_slack.fail("chat.update")
            await courier.deliver(reminder(2))
            await courier.deliver(reminder(2, "Termijn RT-2026-0001, bijgewerkt"))
        else:
            await courier.deliver(reminder(2))
    fake_slack.all_answered()
    await courier.deliver(reminder(2, "Termijn RT-2026-0001, bijgewerkt"))
    assert len(fake_slack.posted[TALIS]) == 1
    assert fake_slack.of("chat.update")[-1].args["ts"] == fake_slack.posted[TALIS][0]["ts"]
    metadata = fake_slack.posted[TALIS][0]["metadata"]
    assert metadata["event_payload"]["sleutel"] == "reminder:2"


async def test_a_late_answer_to_a_reminder_gives_one_message(
        fake_slack: FakeSlack, services: Services, client: AsyncWebClient, clock: Clock) -> None:
    """The real path: the dispatcher retries after its backoff, from a fresh courier (as after
    a restart), and the reminder's earlier attempt makes the courier look first."""
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2026, 12, 22))
    clock.set(ams(2026, 12, 15, 9))
    fake_slack.answer_late("chat.postMessage", seconds=TIMEOUT * 3, times=2)
    sent = await dispatch_due(services, Deliveries([SlackCourier(services, client, pace_seconds=0)]), "w")
    assert sent == 0
    fake_slack.all_answered()
    clock.advance(seconds=backoff(1).total_seconds() + 1)
    fresh = Deliveries([SlackCourier(services, client, pace_seconds=0)])
    assert await dispatch_due(services, fresh, "w") == 2
    channels = {c: msgs for c, msgs in fake_slack.posted.items() if msgs}
    assert sorted(len(m) for m in channels.values()) == [1, 1], channels
    rows = [r for r in await reminders_of(services, case.id) if r.kind == "termijn"]
    assert sum(r.sent_at is not None for r in rows) == 2
