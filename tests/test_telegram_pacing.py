"""Telegram's limits: 20 messages a minute per group, 30 a second overall, and `RetryAfter`
waited out for the chat it came from only (bot/telegram/courier.py, `ChatPacer`).

Real HTTP against tests/faketelegram.py. The order of events is read from the fake's records,
never from the clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from telegram.ext import ExtBot

from bot.delivery import Deliveries, DeliveryFailed
from bot.telegram import TelegramAdapter
from bot.telegram.courier import ChatPacer, TelegramCourier
from commands.context import Services
from commands.replies import Message, Outgoing, to_member, to_partner, to_regieteam
from tests.faketelegram import TOKEN, FakeTelegram

# python-telegram-bot warns about `RetryAfter.retry_after` turning into a timedelta (v22.2).
pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

OOST = -1001002  # the Regieteam's group
TALIS = -1001001  # a partner's group
CARLA = 5003  # a member's private chat


def note(text: str) -> Message:
    return Message("telegram/vorig_antwoord", {"waarde": text})


def oost(text: str) -> Outgoing:
    return Outgoing(to_regieteam("oost"), note(text))


def talis(text: str) -> Outgoing:
    return Outgoing(to_partner("talis"), note(text))


def carla(text: str) -> Outgoing:
    return Outgoing(to_member("carla"), note(text))


@contextlib.asynccontextmanager
async def paced(services: Services, fake: FakeTelegram, pacer: ChatPacer) -> AsyncIterator[Deliveries]:
    """The Telegram courier on a bot that `pacer` paces, against the fake server."""
    bot = ExtBot(token=TOKEN, base_url=f"{fake.url}/bot", rate_limiter=pacer)
    await bot.initialize()
    deliveries = Deliveries()
    deliveries.add(TelegramCourier(bot, services, deliveries))
    try:
        yield deliveries
    finally:
        await bot.shutdown()


def sends(fake: FakeTelegram, after: int = 0) -> list[tuple[int | None, int, str]]:
    """(chat, status, text) of every sendMessage from index `after`, in the order received."""
    return [(c.chat_id, c.status, c.text) for c in fake.calls[after:] if c.method == "sendMessage"]


async def test_the_bot_is_paced_by_the_chat_pacer(telegram_bot: TelegramAdapter) -> None:
    assert isinstance(telegram_bot.application.bot.rate_limiter, ChatPacer)


async def test_a_chat_that_answers_429_waits_alone_and_gets_its_message_once(
    services: Services, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.refuse_chat(OOST, times=1, retry_after=1)
    async with paced(services, fake_telegram, ChatPacer(max_retries=1)) as deliveries:
        mark = fake_telegram.mark()
        held = asyncio.create_task(deliveries.deliver(oost("na de pauze")))
        await fake_telegram.wait_for(lambda: fake_telegram.refused(OOST), what="429 voor Oost")
        await deliveries.deliver(talis("gaat door"))
        await deliveries.deliver(carla("gaat ook door"))
        await held
    order = [(chat, status) for chat, status, _text in sends(fake_telegram, mark)]
    assert order == [(OOST, 429), (TALIS, 200), (CARLA, 200), (OOST, 200)]
    delivered = [text for chat, status, text in sends(fake_telegram, mark)
                 if chat == OOST and status == 200]
    assert len(delivered) == 1 and "na de pauze" in delivered[0]


async def test_retry_after_beyond_the_bound_fails_the_delivery(
    services: Services, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.refuse_chat(OOST, times=2, retry_after=1)
    async with paced(services, fake_telegram, ChatPacer(max_retries=1)) as deliveries:
        with pytest.raises(DeliveryFailed, match="te veel berichten"):
            await deliveries.deliver(oost("blijft geweigerd"))
        assert [s for _c, s, _t in sends(fake_telegram)] == [429, 429]  # one call, one retry
        await deliveries.deliver(oost("later wel"))  # the chat is free again after its wait
    assert [s for _c, s, _t in sends(fake_telegram)] == [429, 429, 200]


async def test_a_wait_longer_than_the_courier_waits_is_left_to_the_outbox_for_that_chat_only(
    services: Services, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.refuse_chat(OOST, times=1, retry_after=3600)
    async with paced(services, fake_telegram, ChatPacer()) as deliveries:
        with pytest.raises(DeliveryFailed):
            await deliveries.deliver(oost("een uur wachten"))
        with pytest.raises(DeliveryFailed):
            await deliveries.deliver(oost("nog binnen het uur"))  # not even tried
        await deliveries.deliver(talis("andere groep"))
    assert [(c, s) for c, s, _t in sends(fake_telegram)] == [(OOST, 429), (TALIS, 200)]


async def test_a_group_at_its_limit_holds_up_only_itself_and_private_chats_have_no_group_limit(
    services: Services, fake_telegram: FakeTelegram
) -> None:
    pacer = ChatPacer(per_group=1, group_period=60)  # the second message waits a minute
    async with paced(services, fake_telegram, pacer) as deliveries:
        await deliveries.deliver(oost("eerste"))
        second = asyncio.create_task(deliveries.deliver(oost("tweede")))
        await fake_telegram.wait_for(lambda: pacer.waiting(OOST), what="tweede wacht op Oost")
        await deliveries.deliver(talis("andere groep"))
        for number in range(3):
            await deliveries.deliver(carla(f"privé {number}"))
        assert not second.done() and pacer.waiting(OOST) == 1
        second.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await second
    assert [c for c, s, _t in sends(fake_telegram)] == [OOST, TALIS, CARLA, CARLA, CARLA]
    assert not fake_telegram.refused()


async def test_every_message_to_a_group_over_telegrams_limit_is_delivered_once(
    services: Services, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.limit_groups(per=2, seconds=1)  # 429 with retry_after beyond 2 a second
    texts = [f"herinnering {number}" for number in range(4)]
    async with paced(services, fake_telegram, ChatPacer()) as deliveries:
        burst = [asyncio.create_task(deliveries.deliver(oost(text))) for text in texts]
        await fake_telegram.wait_for(lambda: fake_telegram.refused(OOST), what="429 voor Oost")
        await deliveries.deliver(carla("tussendoor"))
        await asyncio.gather(*burst)
    records = sends(fake_telegram)
    delivered = [text for chat, status, text in records if chat == OOST and status == 200]
    assert sorted(t for text in delivered for t in texts if t in text) == texts
    assert len(delivered) == len(texts)
    order = [(chat, status) for chat, status, _text in records]
    assert order.index((CARLA, 200)) < len(order) - 1 - order[::-1].index((OOST, 200))
