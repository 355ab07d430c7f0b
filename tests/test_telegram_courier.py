"""Delivering neutral messages to Telegram: threads, edits in place, flood limits, length,
personal data, and a casemanager who never pressed /start."""

from __future__ import annotations

import time

import pytest

from bot.delivery import Deliveries, DeliveryFailed
from bot.telegram import TelegramAdapter
from commands.organisation import Organisation, load_organisation
from commands.replies import Action, Message, Outgoing, to_member, to_partner, to_regieteam
from tests.conftest import EXAMPLE_ORG
from tests.faketelegram import FakeTelegram

OOST = -1001002  # not a forum here: case threads are replies
BUURTTEAM = -1001003
CARLA = 5003
DIRK = 5004


@pytest.fixture
def org() -> Organisation:
    """The example organisation, with a Telegram group for the Buurtteam."""
    base = load_organisation(EXAMPLE_ORG)
    partners = tuple(p.model_copy(update={"telegram_chat": BUURTTEAM}) if p.id == "buurtteam"
                     else p for p in base.partners)
    return base.model_copy(update={"partners": partners})


def note(text: str) -> Message:
    return Message("telegram/vorig_antwoord", {"waarde": text})


async def test_case_thread_without_topics_is_a_reply_chain(
    fake_telegram: FakeTelegram, telegram_deliveries: Deliveries, telegram_bot: TelegramAdapter
) -> None:
    team = to_regieteam("oost")
    await telegram_deliveries.deliver(Outgoing(team, note("casus"), update_key="case_thread:41"))
    root = fake_telegram.sent("sendMessage", OOST)[-1]
    assert root.result is not None
    await telegram_deliveries.deliver(Outgoing(team, note("in de draad"), thread_case=41))
    reply = fake_telegram.sent("sendMessage", OOST)[-1]
    assert reply.params["reply_parameters"]["message_id"] == root.result["message_id"]
    assert not fake_telegram.sent("createForumTopic")


async def test_update_key_edits_the_message_in_place(
    fake_telegram: FakeTelegram, telegram_deliveries: Deliveries, telegram_bot: TelegramAdapter
) -> None:
    team = to_regieteam("oost")
    await telegram_deliveries.deliver(Outgoing(team, note("0 stemmen"), update_key="tally:7"))
    await telegram_deliveries.deliver(Outgoing(team, note("1 stem"), update_key="tally:7"))
    await telegram_deliveries.deliver(Outgoing(team, note("1 stem"), update_key="tally:7"))  # unchanged
    assert len(fake_telegram.sent("sendMessage", OOST)) == 1
    edits = fake_telegram.sent("editMessageText", OOST)
    first = fake_telegram.sent("sendMessage", OOST)[0]
    assert first.result is not None
    assert {int(e.params["message_id"]) for e in edits} == {first.result["message_id"]}
    assert "1 stem" in fake_telegram.current_text(OOST, first.result["message_id"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_flood_limit_is_waited_out(
    fake_telegram: FakeTelegram, telegram_deliveries: Deliveries, telegram_bot: TelegramAdapter
) -> None:
    fake_telegram.rate_limits["sendMessage"] = [1]
    started = time.monotonic()
    await telegram_deliveries.deliver(Outgoing(to_regieteam("oost"), note("na de pauze")))
    assert time.monotonic() - started >= 1.0
    attempts = [c for c in fake_telegram.sent("sendMessage", OOST) if "na de pauze" in c.text]
    assert len(attempts) == 2  # refused once with retry_after, then delivered


async def test_long_message_is_sent_in_pages_with_buttons_on_the_last(
    fake_telegram: FakeTelegram, telegram_deliveries: Deliveries, telegram_bot: TelegramAdapter
) -> None:
    long = Message("telegram/vorig_antwoord", {"waarde": "\n".join(["regel " * 40] * 60)},
                   (Action("toon_gegevens", "RT-2026-0001", "actie.toon_gegevens"),))
    await telegram_deliveries.deliver(Outgoing(to_regieteam("oost"), long))
    pages = fake_telegram.sent("sendMessage", OOST)
    assert len(pages) >= 3
    assert all(len(p.text) <= 4096 for p in pages)
    assert [bool(p.markup) for p in pages] == [False] * (len(pages) - 1) + [True]
    assert "deel 1 van" in pages[0].text


async def test_personal_data_never_goes_to_a_group(
    fake_telegram: FakeTelegram, telegram_deliveries: Deliveries, telegram_bot: TelegramAdapter
) -> None:
    secret = Message("gegevens/toon", {"referentie": "RT-2026-0001", "naam": "Jan Fictief",
                                       "adres": "Verzonnenstraat 12", "postcode": "6511 AB"},
                     personal=True)
    with pytest.raises(DeliveryFailed):
        await telegram_deliveries.deliver(Outgoing(to_partner("talis"), secret))
    assert not fake_telegram.sent("sendMessage")
    await telegram_deliveries.deliver(Outgoing(to_member("carla"), secret))
    assert "Jan Fictief" in fake_telegram.sent("sendMessage", CARLA)[0].text


async def test_member_who_never_started_the_bot(
    fake_telegram: FakeTelegram, telegram_deliveries: Deliveries, telegram_bot: TelegramAdapter
) -> None:
    fake_telegram.forbidden.add(DIRK)
    message = Message("besluit/volgende_stap", {"referentie": "RT-2026-0001"})
    with pytest.raises(DeliveryFailed):
        await telegram_deliveries.deliver(Outgoing(to_member("dirk"), message))
    ask = fake_telegram.sent("sendMessage", BUURTTEAM)
    assert len(ask) == 1 and "Dirk Visser" in ask[0].text and "Start" in ask[0].text
    assert ask[0].buttons()[0]["url"].startswith("https://t.me/regieteam_test_bot")
    chair = fake_telegram.sent("sendMessage", CARLA)
    assert len(chair) == 1 and "Dirk Visser" in chair[0].text
    # a second failure the same day does not ask again
    with pytest.raises(DeliveryFailed):
        await telegram_deliveries.deliver(Outgoing(to_member("dirk"), message))
    assert len(fake_telegram.sent("sendMessage", BUURTTEAM)) == 1
    # once Dirk has pressed /start, messages arrive
    fake_telegram.forbidden.clear()
    await telegram_deliveries.deliver(Outgoing(to_member("dirk"), message))
    assert fake_telegram.sent("sendMessage", DIRK)


async def test_long_button_values_are_stored_behind_a_short_key(
    fake_telegram: FakeTelegram, telegram_deliveries: Deliveries, telegram_bot: TelegramAdapter
) -> None:
    joost = 5010
    message = Message("telegram/niets_bezig", {},
                      (Action("status_volledig", "x" * 80, "actie.status_volledig"),))
    await telegram_deliveries.deliver(Outgoing(to_member("joost"), message))
    sent = fake_telegram.sent("sendMessage", joost)[-1]
    data = sent.buttons()[0]["callback_data"]
    assert data.startswith("h|") and len(data.encode()) <= 64
    mark = fake_telegram.mark()
    update = fake_telegram.tap(joost, sent, "Toon alles")
    await fake_telegram.answer_to(update)
    assert await fake_telegram.next_call("sendMessage", joost, after=mark)


async def test_a_button_that_needs_the_private_chat_links_there_first(
    fake_telegram: FakeTelegram, telegram_deliveries: Deliveries, telegram_bot: TelegramAdapter
) -> None:
    message = Message("telegram/niets_bezig", {},
                      (Action("herinnering_uitstellen", "1", "herinnering.uitstellen"),))
    await telegram_deliveries.deliver(Outgoing(to_regieteam("oost"), message))
    posted = fake_telegram.sent("sendMessage", OOST)[-1]
    fake_telegram.forbidden.add(CARLA)  # Carla never pressed /start
    answer = await fake_telegram.answer_to(fake_telegram.tap(CARLA, posted, "Uitstellen"))
    assert answer.params["url"] == "https://t.me/regieteam_test_bot?start=u_1"
    fake_telegram.forbidden.clear()
    mark = fake_telegram.mark()
    fake_telegram.send_text(CARLA, "/start u_1")
    await fake_telegram.next_call("sendMessage", CARLA, after=mark, contains="Tot wanneer")


async def test_melding_in_a_group_by_someone_who_does_not_file(
    fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter
) -> None:
    mark = fake_telegram.mark()
    fake_telegram.send_text(CARLA, "/melding", chat_id=OOST)
    reply = await fake_telegram.next_call("sendMessage", OOST, after=mark)
    assert not reply.buttons()
    assert "melder" in reply.text
