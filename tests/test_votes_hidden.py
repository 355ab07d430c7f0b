"""Votes: a Regieteam can hide who voted what until the chair records the decision (counts stay
visible), and a vote that is cast again unchanged is no change: no event, no new tally."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.delivery import Deliveries
from bot.telegram import TelegramAdapter, create_telegram
from commands import agenda, stemmen
from commands.context import Services
from commands.organisation import Organisation, load_organisation
from commands.status import case_timeline
from messages.render import renderer
from store.models import Event, Vote
from tests.conftest import EXAMPLE_ORG, Clock, member
from tests.fakeslack import FakeSlack, SlackBot, all_text, button_named
from tests.faketelegram import FakeTelegram, telegram_settings
from tests.helpers import file
from tests.test_meeting_rules import at
from tests.test_slack_flow import REF, file_melding_via_modal, posts_to
from tests.test_telegram_e2e import DIRK, EVA, say, tap, tap_answer
from tests.test_telegram_melding import ANNA, CARLA, OOST, fill_rest, fill_until_children


@pytest.fixture
def org() -> Organisation:
    base = load_organisation(EXAMPLE_ORG)
    return base.model_copy(update={"rules": base.rules.model_copy(
        update={"hide_votes_until_decision": True})})


def latest_tally(fake: FakeSlack) -> str:
    calls = [c for c in fake.of("chat.postMessage", "chat.update") if f"Stemmen {REF}" in all_text(c.args)]
    return all_text(calls[-1].args)


async def count(services: Services, model: object, *where: object) -> int:
    async with services.sessions() as session:
        query = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
        return int(await session.scalar(query) or 0)


async def test_slack_hides_names_until_the_decision(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                    services: Services) -> None:
    fake = fake_slack
    await file_melding_via_modal(slack_bot, fake)
    await slack_bot.slash("U0CARLA", "/agenda", "plaats", channel="C0REGIE")
    await fake.work_done()
    opener = next(c for c in posts_to(fake, "C0REGIE") if "regie|stem|" in all_text(c.args))
    blocks = opener.args["blocks"]
    for user in ("U0CARLA", "U0DIRK", "U0FATIMA"):
        await slack_bot.click(user, button_named(blocks, "stem", f"{REF}|q1|ja"))
        await slack_bot.click(user, button_named(blocks, "stem", f"{REF}|q3|nee"))
    await fake.work_done()
    before = latest_tally(fake)
    assert "ja: 3" in before and "nee: 3" in before
    assert not any(name in before for name in ("Carla", "Dirk", "Fatima"))
    assert "zodra de voorzitter het besluit vastlegt" in before

    await slack_bot.click("U0CARLA", button_named(blocks, "besluit_vastleggen"))
    await fake.wait_for("views.open", 2)
    _, answer = await slack_bot.submit("U0CARLA", fake.last_view("besluit"),
                                       {"q1": "meerderheid", "q3": "meerderheid"})
    assert answer["response_action"] == "update"
    await fake.work_done()
    after = latest_tally(fake)
    assert "Carla Smit" in after and "Dirk Visser" in after and "zodra de voorzitter" not in after


async def test_slack_repeated_click_is_no_change(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                 services: Services) -> None:
    fake = fake_slack
    await file_melding_via_modal(slack_bot, fake)
    await slack_bot.slash("U0CARLA", "/agenda", "plaats", channel="C0REGIE")
    await fake.work_done()
    opener = next(c for c in posts_to(fake, "C0REGIE") if "regie|stem|" in all_text(c.args))
    button = button_named(opener.args["blocks"], "stem", f"{REF}|q1|ja")
    await slack_bot.click("U0DIRK", button)
    await fake.work_done()
    tallies = len(fake.of("chat.update")) + len(posts_to(fake, "C0REGIE"))
    for _ in range(20):
        await slack_bot.click("U0DIRK", button)
    await fake.work_done()
    assert await count(services, Vote) == 1
    assert await count(services, Event, Event.kind.in_(("vote_cast", "vote_changed"))) == 1
    assert len(fake.of("chat.update")) + len(posts_to(fake, "C0REGIE")) == tallies
    assert "stond al zo" in " ".join(all_text(c.args) for c in fake.of("response_url"))


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(forums=(OOST,))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def telegram_bot(services: Services, telegram: FakeTelegram) -> AsyncIterator[TelegramAdapter]:
    adapter = create_telegram(services, telegram_settings(telegram), Deliveries())
    await adapter.start()
    yield adapter
    await adapter.stop()


async def test_telegram_hides_names_until_the_decision(
        services: Services, telegram: FakeTelegram, telegram_bot: TelegramAdapter) -> None:
    fake = telegram
    summary = await fill_rest(fake, await fill_until_children(fake))
    await tap(fake, ANNA, summary, "Indienen", REF)
    await fake.next_call("sendMessage", OOST, contains=f"Nieuwe melding {REF}")
    agenda = await say(fake, CARLA, "/agenda", REF, chat=OOST)
    mark = fake.mark()
    fake.tap(CARLA, agenda, "Agenda plaatsen")
    case_message = await fake.next_call("sendMessage", OOST, after=mark, contains="Stem hieronder")
    for user in (CARLA, DIRK, EVA):
        await tap_answer(fake, user, case_message, "1: ja")
        await tap_answer(fake, user, case_message, "3: MBZ nee")
    await fake.wait_for(lambda: len(fake.sent("editMessageText", OOST)) >= 5)
    tally = next(c for c in fake.sent("sendMessage", OOST) if f"Stemmen {REF}" in c.text)
    before = fake.current_text(OOST, fake.message_of(tally)["message_id"])
    assert "3 van minimaal 3" in before and "Carla" not in before and "Eva" not in before

    mark = fake.mark()
    fake.tap(CARLA, case_message, "Besluit vastleggen")
    how = await fake.next_call("sendMessage", CARLA, after=mark, contains="Hoe leg je")
    await tap(fake, CARLA, how, "meerderheid", "Volgende stap")
    await fake.wait_for(lambda: "Carla Smit" in fake.current_text(
        OOST, fake.message_of(tally)["message_id"]))
    assert "Eva Mulder" in fake.current_text(OOST, fake.message_of(tally)["message_id"])


async def test_timeline_hides_choices_until_the_decision(services: Services, clock: Clock) -> None:
    clock.set(at(11, 19, 10))
    ref = str((await file(services)).value)
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    await stemmen.cast_vote(services, member(services.org, "dirk"), ref, "q1", "nee")
    timeline = await case_timeline(services, member(services.org, "joost"), ref)
    text = renderer("plain").render(timeline.replies[0])
    assert "Dirk Visser stemt op" in text and "(wat, zie je na het besluit)" in text
    assert ": nee" not in text


async def test_a_late_tally_update_still_shows_the_latest_votes(
        services: Services, clock: Clock, fake_slack: FakeSlack) -> None:
    """Two votes' tallies racing to one message: the one sent last is made afresh, so a stale
    tally that arrives late cannot overwrite the newer one."""
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack.courier import SlackCourier
    from tests.fakeslack import BOT_TOKEN

    clock.set(at(11, 19, 10))
    ref = str((await file(services)).value)
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    first = await stemmen.cast_vote(services, member(services.org, "carla"), ref, "q1", "ja")
    second = await stemmen.cast_vote(services, member(services.org, "dirk"), ref, "q1", "nee")
    courier = SlackCourier(services, AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))
    for result in (second, first):  # the older tally is delivered last
        for item in result.outgoing:
            await courier.deliver(item)
    await fake_slack.work_done()
    last = fake_slack.of("chat.postMessage", "chat.update")[-1]
    assert "2 van minimaal 3" in all_text(last.args)
