"""The outbox: a command's messages are stored with its change, sent at once when the platform
answers, and later (with retries) when it does not. Nothing is lost when Slack fails, nothing
is posted twice when its answer comes late, and the chair is told the truth about the agenda.

The platform is the fake Slack Web API over real HTTP; its failures are switched on in the fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select

from bot.delivery import Deliveries
from bot.slack.courier import SlackCourier, make_web_client
from commands import agenda, outbox, stemmen
from commands.context import Services
from commands.dispatcher import MAX_ATTEMPTS, backoff
from commands.melding import file_melding
from commands.replies import CommandRefused, Message, Outgoing, Result, to_member
from messages.render import renderer
from store.locks import named_lock
from store.models import OutboxMessage
from tests.conftest import Clock, Database, member
from tests.fakeslack import BOT_TOKEN, FakeSlack, SlackBot, all_text
from tests.helpers import file, valid_answers
from tests.test_meeting_rules import at

TIMEOUT = 1  # the client's timeout; the fake answers later than this when asked to
REGIE = "C0REGIE"


@pytest.fixture
async def client(fake_slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    yield make_web_client(BOT_TOKEN, fake_slack.api_url, timeout=TIMEOUT)


def slack(services: Services, client: AsyncWebClient) -> Deliveries:
    """A fresh Slack door, as after a restart (nothing remembered in memory)."""
    return Deliveries([SlackCourier(services, client, pace_seconds=0)])


async def rows(services: Services) -> list[OutboxMessage]:
    async with services.sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


def waiting(found: list[OutboxMessage]) -> list[OutboxMessage]:
    return [r for r in found if r.sent_at is None and r.cancelled_at is None and r.failed_at is None]


def texts(fake: FakeSlack, channel: str) -> list[str]:
    return [all_text(m) for m in fake.posted.get(channel, [])]


async def later(services: Services, clock: Clock, deliveries: Deliveries) -> int:
    """The dispatcher's next round, once the backoff of a first failure has passed."""
    clock.advance(seconds=backoff(1).total_seconds() + 1)
    return await outbox.dispatch_outbox(services, deliveries, "dispatcher")


async def test_a_command_stores_its_messages_with_its_change(services: Services, clock: Clock) -> None:
    clock.set(at(11, 19, 10))
    result = await file(services)
    stored = await rows(services)
    assert result.outgoing and [item.outbox_id for item in result.outgoing] == [r.id for r in stored]
    assert {r.template for r in stored} == {"melding/aangekondigd"}
    assert all(b"RT-" not in r.payload for r in stored)  # what it says is encrypted
    with pytest.raises(CommandRefused):  # a refused command stores no message
        await agenda.post_agenda(services, member(services.org, "anna"), "oost")
    assert len(await rows(services)) == len(stored)


async def test_the_melders_copy_is_stored_with_the_melding(services: Services, clock: Clock) -> None:
    """After the Slack form closes, the confirmation goes to the melder's DM: it is queued in
    the melding's own transaction, so a crash right after the filing cannot lose it, and a
    repeated submission queues nothing again."""
    clock.set(at(11, 19, 10))
    anna = member(services.org, "anna")
    filed = await file_melding(services, anna, valid_answers(), submission_key="v1", copy_to="slack")
    copies = [item for item in filed.outgoing if item.to.kind == "member"]
    assert [(c.to.id, c.platform, c.message.template) for c in copies] == [
        ("anna", "slack", "melding/ingediend")]
    assert all(item.outbox_id for item in filed.outgoing)
    again = await file_melding(services, anna, valid_answers(), submission_key="v1", copy_to="slack")
    assert again.outgoing == [] and len(await rows(services)) == len(filed.outgoing)


@pytest.mark.parametrize("body", ['{"ok": false, "error": "fatal_error"}', "Internal Server Error"],
                         ids=["json", "plain-text"])
async def test_a_melding_filed_while_slack_fails_is_announced_once_it_recovers(
        body: str, services: Services, clock: Clock, fake_slack: FakeSlack,
        client: AsyncWebClient) -> None:
    clock.set(at(11, 19, 10))
    result = await file(services)
    fake_slack.fail("chat.postMessage", times=1, status=500, body=body)
    sending = await slack(services, client).send(services, result.outgoing)
    assert not sending.complete and not fake_slack.posted.get(REGIE)
    [row] = waiting(await rows(services))
    assert row.attempts == 1 and row.last_error in ("slack: fatal_error", "slack: HTTP 500")
    fake_slack.all_answered()
    assert await later(services, clock, slack(services, client)) == 1
    assert len(texts(fake_slack, REGIE)) == 1 and str(result.value) in texts(fake_slack, REGIE)[0]
    assert await later(services, clock, slack(services, client)) == 0  # and only once


async def test_the_chair_is_told_the_agenda_is_placed_only_when_it_is(
        services: Services, clock: Clock, fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    clock.set(at(11, 19, 10))
    filed = await file(services)
    assert (await slack(services, client).send(services, filed.outgoing)).complete
    chair = member(services.org, "carla")
    result = await agenda.post_agenda(services, chair, "oost")
    fake_slack.fail("chat.postMessage", times=1, status=500)
    sending = await slack(services, client).send(services, result.outgoing)
    assert [m.template for m in result.replies_after(sending.complete)] == ["agenda/wordt_geplaatst"]
    fake_slack.all_answered()
    assert await later(services, clock, slack(services, client)) == len(result.outgoing)
    assert any("Agenda" in text for text in texts(fake_slack, REGIE))
    again = await agenda.post_agenda(services, chair, "oost")  # posted again: updated in place
    sending = await slack(services, client).send(services, again.outgoing)
    assert [m.template for m in again.replies_after(sending.complete)] == ["agenda/geplaatst"]


async def test_a_late_answer_from_slack_does_not_give_a_second_post(
        services: Services, clock: Clock, fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    clock.set(at(11, 19, 10))
    result = await file(services)
    fake_slack.answer_late("chat.postMessage", seconds=TIMEOUT * 3)
    sending = await slack(services, client).send(services, result.outgoing)
    assert not sending.complete
    fake_slack.all_answered()
    assert await later(services, clock, slack(services, client)) == 1
    assert len(fake_slack.posted[REGIE]) == 1  # the late post was found by its marker
    marker = fake_slack.posted[REGIE][0]["metadata"]["event_payload"]["sleutel"]
    assert marker == f"bericht:{result.outgoing[0].outbox_id}"
    assert fake_slack.of("conversations.history")


async def test_only_the_latest_version_of_an_edited_message_waits(
        services: Services, clock: Clock, fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    clock.set(at(11, 19, 10))
    reference = str((await file(services)).value)
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    votes = [await stemmen.cast_vote(services, member(services.org, who), reference, "q1", "ja")
             for who in ("carla", "dirk", "fatima")]
    tallies = [r for r in await rows(services) if r.update_key and r.update_key.startswith("tally:")]
    assert [r.cancel_reason for r in tallies] == [outbox.REPLACED, outbox.REPLACED, None]
    assert await outbox.dispatch_outbox(services, slack(services, client), "dispatcher") > 0
    tally_posts = [t for t in texts(fake_slack, REGIE) if f"Stemmen {reference}" in t]
    assert len(tally_posts) == 1 and "3 van minimaal 3" in tally_posts[0]
    assert not fake_slack.of("chat.update")
    assert votes[0].outgoing[0].outbox_id == tallies[0].id


async def test_two_versions_of_a_message_in_one_request_leave_only_the_second(
        services: Services, clock: Clock) -> None:
    clock.set(at(11, 19, 10))
    first, second = (Outgoing(to_member("anna"), Message("fout/stem_vraag"), update_key="tally:99")
                     for _ in range(2))
    async with services.transaction() as session:
        await outbox.queue(session, services, [first, second])
    assert [r.cancel_reason for r in await rows(services)] == [outbox.REPLACED, None]


async def test_what_a_stopped_process_had_claimed_goes_out_at_the_next_start(
        services: Services, clock: Clock, fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    clock.set(at(11, 19, 10))
    result = await file(services)
    claimed = await outbox._claim(services, "gestopt", 10)
    assert [r.id for r in claimed] == [item.outbox_id for item in result.outgoing]
    assert await outbox.dispatch_outbox(services, slack(services, client), "nieuw") == 0
    assert await outbox.release_claims_of_others(services, ["nieuw"]) == 1
    assert await outbox.dispatch_outbox(services, slack(services, client), "nieuw") == 1
    assert fake_slack.of("conversations.history")  # it may have been sent: looked first
    assert len(fake_slack.posted[REGIE]) == 1


async def test_a_message_that_keeps_failing_is_reported_to_the_coordinators(
        services: Services, clock: Clock, fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    clock.set(at(11, 19, 10))
    result = await file(services)
    fake_slack.fail("chat.postMessage", times=MAX_ATTEMPTS, status=500)
    await slack(services, client).send(services, result.outgoing)
    for attempt in range(1, MAX_ATTEMPTS):
        clock.advance(seconds=backoff(attempt).total_seconds() + 1)
        await outbox.dispatch_outbox(services, slack(services, client), "dispatcher")
    found = await rows(services)
    given_up = next(r for r in found if r.id == result.outgoing[0].outbox_id)
    assert given_up.failed_at is not None and given_up.attempts == MAX_ATTEMPTS
    reports = [r for r in found if r.template == outbox.REPORT_TEMPLATE]
    coordinators = {m.id for m in services.org.with_role("coordinator")}
    assert {r.destination_id for r in reports} == coordinators
    assert all(r.sent_at is not None for r in reports)  # the report itself went out


async def test_a_destination_no_platform_knows_is_not_retried(services: Services, clock: Clock) -> None:
    clock.set(at(11, 19, 10))
    result = await file(services)
    sending = await Deliveries().send(services, result.outgoing)
    assert not sending.complete
    [row] = await rows(services)
    assert row.cancel_reason == outbox.NO_ROUTE and row.next_attempt_at is None


async def test_finished_messages_are_forgotten_after_a_week(services: Services, clock: Clock) -> None:
    clock.set(at(11, 19, 10))
    await file(services)
    await Deliveries().send(services, [])
    async with services.transaction() as session:
        await session.execute(OutboxMessage.__table__.update().values(sent_at=clock()))
    clock.advance(seconds=(outbox.FINISHED_KEPT.total_seconds() + 60))
    async with services.transaction() as session:
        assert await outbox.forget_finished(session, services.now()) == 1
        assert await session.scalar(select(func.count(OutboxMessage.id))) == 0


# --- through the Slack door, over signed HTTP ------------------------------------------------


async def test_slack_down_while_a_melding_is_filed_loses_nothing(
        slack_bot: SlackBot, fake_slack: FakeSlack, services: Services, clock: Clock) -> None:
    """The modal says the melding was filed; the announcement and the melder's copy wait in
    the outbox and go out, once, when Slack is back."""
    from tests.test_slack_flow import REF, melding_values

    clock.set(at(11, 19, 10))
    await slack_bot.slash("U0ANNA", "/melding")
    await fake_slack.wait_for("views.open")
    fake_slack.fail("chat.postMessage", times=2, status=500)
    _, answer = await slack_bot.submit("U0ANNA", fake_slack.last_view("melding"), melding_values())
    assert answer["response_action"] == "update"
    await slack_bot.idle()
    assert not fake_slack.posted.get(REGIE)
    assert len(waiting(await rows(services))) == 2
    assert await later(services, clock, slack_bot.deliveries) == 2
    assert [REF in text for text in texts(fake_slack, REGIE)] == [True]
    dm = [c for c in fake_slack.of("chat.postMessage") if c.args["channel"] != REGIE]
    assert len(dm) == 1 and REF in all_text(dm[0].args)
    assert await later(services, clock, slack_bot.deliveries) == 0


async def test_agenda_posted_while_slack_fails_says_it_comes_later(
        slack_bot: SlackBot, fake_slack: FakeSlack, services: Services, clock: Clock) -> None:
    clock.set(at(11, 19, 10))
    filed = await file(services)
    await slack_bot.deliveries.send(services, filed.outgoing)
    fake_slack.fail("chat.postMessage", times=1, status=500)
    status, _ = await slack_bot.slash("U0CARLA", "/agenda", "plaats", channel=REGIE)
    assert status == 200
    await slack_bot.idle()
    said = " ".join(all_text(c.args) for c in fake_slack.of("response_url"))
    assert "zo" in said and "staat in het kanaal" not in said and "Er ging iets mis" not in said
    assert await later(services, clock, slack_bot.deliveries) == 2
    assert any("Agenda" in text for text in texts(fake_slack, REGIE))


# --- quick edits of one tally are sent as one -------------------------------------------------


class GatedCourier:
    """A platform whose first answer waits until the test opens the gate."""

    platform = "fake"

    def __init__(self, *, open_: bool = False) -> None:
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        if open_:
            self.gate.set()
        self.delivered: list[str] = []

    def can_reach(self, item: Outgoing) -> bool:
        return True

    async def deliver(self, item: Outgoing) -> None:
        message = await item.current()
        if not self.entered.is_set():
            self.entered.set()
            await self.gate.wait()
        self.delivered.append(renderer("plain").render(message))


@pytest.mark.parametrize("held", [False, True], ids=["geclaimd-bij-verzenden", "geclaimd-in-de-stem"])
async def test_votes_while_a_tally_is_being_sent_give_one_more_edit(
        services: Services, clock: Clock, held: bool) -> None:
    """Also when every vote queues its tally claimed for the door that sends it (a Slack
    click): the versions nobody sent are replaced, and nothing stays claimed."""
    clock.set(at(11, 19, 10))
    reference = str((await file(services)).value)
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    courier = GatedCourier()
    deliveries = Deliveries([courier])
    await outbox.dispatch_outbox(services, Deliveries([GatedCourier(open_=True)]), "vooraf")
    asked = services.asked("slack", "knop stem", sender=deliveries.worker_id) if held else services

    async def vote(who: str) -> None:
        result = await stemmen.cast_vote(asked, member(services.org, who), reference, "q1", "ja")
        assert all((item.held_by is not None) is held for item in result.outgoing)
        await deliveries.send(asked, result.outgoing)

    first = asyncio.create_task(vote("carla"))
    await courier.entered.wait()  # the first tally is on its way
    others = [asyncio.create_task(vote(who)) for who in ("dirk", "fatima")]
    done, _ = await asyncio.wait(others, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1  # one of them leaves the latest version to the other
    courier.gate.set()
    await asyncio.gather(first, *others)
    tallies = [text for text in courier.delivered if f"Stemmen {reference}" in text]
    assert len(tallies) == 2
    assert "1 van minimaal 3" in tallies[0] and "3 van minimaal 3" in tallies[1]
    versions = [r for r in await rows(services) if (r.update_key or "").startswith("tally:")]
    assert [r.sent_at is not None or r.cancel_reason == outbox.REPLACED for r in versions] == [True] * 3
    assert all(r.claimed_by is None for r in versions)
    assert await outbox.dispatch_outbox(services, deliveries, "daarna") == 0


async def test_a_tally_sent_after_a_newer_vote_was_stored_shows_that_vote(
        services: Services, clock: Clock) -> None:
    """A vote's tally is the state its transaction committed. Sent while it is the newest
    version, it goes as it is; once a newer vote is stored, it is made afresh (on every
    database), so a late send never shows fewer votes than are stored."""
    clock.set(at(11, 19, 10))
    reference = str((await file(services)).value)
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    courier = GatedCourier(open_=True)
    deliveries = Deliveries([courier])
    await outbox.dispatch_outbox(services, deliveries, "vooraf")
    asked = services.asked("slack", "knop stem", sender=deliveries.worker_id)

    async def vote(who: str) -> Result:
        return await stemmen.cast_vote(asked, member(services.org, who), reference, "q1", "ja")

    def last_tally() -> str:
        return [text for text in courier.delivered if f"Stemmen {reference}" in text][-1]

    await deliveries.send(asked, (await vote("carla")).outgoing)
    assert "1 van minimaal 3" in last_tally()
    older, newer = await vote("dirk"), await vote("fatima")
    await deliveries.send(asked, older.outgoing)  # the older version, after the newer was stored
    assert "3 van minimaal 3" in last_tally()
    await deliveries.send(asked, newer.outgoing)
    assert "3 van minimaal 3" in last_tally()


async def test_a_tally_made_under_the_courier_lock_shows_votes_stored_meanwhile(
        services: Services, clock: Clock, database: Database) -> None:
    """The Slack courier makes a tally afresh while it holds the message's lock. On
    PostgreSQL it does so in the lock's own session, and that still sees a vote committed
    after the lock was taken; on SQLite there is no lock session and it uses its own."""
    clock.set(at(11, 19, 10))
    reference = str((await file(services)).value)
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    asked = services.asked("slack", "knop stem")
    voted = await stemmen.cast_vote(asked, member(services.org, "carla"), reference, "q1", "ja")
    [tally] = [o for o in voted.outgoing if str(o.update_key).startswith("tally:")]

    async with named_lock(services.sessions, f"slack:{tally.update_key}") as held:
        assert (held is None) == (database.kind == "sqlite")
        await stemmen.cast_vote(asked, member(services.org, "dirk"), reference, "q1", "ja")
        shown = renderer("plain").render(await tally.current(held))

    assert "2 van minimaal 3" in shown


async def test_messages_queued_for_their_sender_are_sent_by_it_once(
        services: Services, clock: Clock, fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    """A request's messages queued claimed for the door that sends them right after: no other
    worker takes them meanwhile, the door sends them without claiming them again, and when
    that door stopped before sending, the next start frees them."""
    clock.set(at(11, 19, 10))
    door = slack(services, client)
    asked = services.asked("slack", "test", sender=door.worker_id)
    result = await file(asked)
    [row] = await rows(services)
    assert row.claimed_by == door.worker_id and result.outgoing[0].held_by == door.worker_id
    assert await outbox.dispatch_outbox(services, slack(services, client), "dispatcher") == 0
    assert (await door.send(asked, result.outgoing)).complete
    [row] = await rows(services)
    assert row.sent_at is not None and row.claimed_by is None and row.attempts == 1
    assert len(fake_slack.posted[REGIE]) == 1

    stopped = Deliveries()
    await file(services.asked("slack", "test", sender=stopped.worker_id))
    assert await outbox.dispatch_outbox(services, slack(services, client), "nieuw") == 0
    assert await outbox.release_claims_of_others(services, ["nieuw"]) == 1
    assert await outbox.dispatch_outbox(services, slack(services, client), "nieuw") == 1
    assert len(fake_slack.posted[REGIE]) == 2


# --- a private answer in a member's DM ---------------------------------------------------------


async def test_a_private_answer_slack_refuses_goes_out_later_and_only_on_slack(
        services: Services, clock: Clock, fake_slack: FakeSlack, slack_bot: SlackBot) -> None:
    """An answer without a response_url (after a modal) goes to the member's DM through the
    outbox: a Slack fault delays it instead of losing it. Carla is on Telegram too; the answer
    stays on the door she used."""
    clock.set(at(11, 19, 10))
    telegram = GatedCourier(open_=True)
    telegram.platform = "telegram"
    slack_bot.deliveries.add(telegram)
    carla = member(services.org, "carla")
    fake_slack.fail("chat.postMessage", times=1, status=500)
    answer = Message("fout/onbekende_gebruiker", {"vraag": "de coördinator"})
    await slack_bot.adapter.say_privately(carla, [answer], None)  # no error for Carla
    assert not fake_slack.posted.get("DU0CARLA")
    [row] = waiting(await rows(services))
    assert (row.destination_kind, row.destination_id, row.attempts) == ("member", "carla", 1)
    fake_slack.all_answered()
    assert await later(services, clock, slack_bot.deliveries) == 1
    assert len(fake_slack.posted["DU0CARLA"]) == 1
    assert telegram.delivered == []


async def test_an_answer_after_a_form_is_queued_once_with_its_record(
        services: Services, clock: Clock) -> None:
    clock.set(at(11, 19, 10))
    answer = Outgoing(to_member("carla"), Message("slack/al_verwerkt"), platform="slack")
    first = await outbox.queue_once(services, "slack:view:V1:klaar", [answer])
    assert first is not None and first[0].outbox_id is not None
    assert await outbox.queue_once(services, "slack:view:V1:klaar", [answer]) is None
    assert len(await rows(services)) == 1


async def test_a_message_for_its_sender_still_waits_behind_an_older_retry(
        services: Services, clock: Clock, fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    """Where an older message to the same channel waits for its retry, a request's message is
    not claimed for its sender: it waits behind the older one and goes out after it."""
    clock.set(at(11, 19, 10))
    first = await file(services)
    fake_slack.fail("chat.postMessage", times=1, status=500)
    assert not (await slack(services, client).send(services, first.outgoing)).complete
    door = slack(services, client)
    asked = services.asked("slack", "test", sender=door.worker_id)
    second = await file(asked)
    assert second.outgoing[0].held_by is None
    assert (await door.send(asked, second.outgoing)).waiting == 1
    assert not fake_slack.posted.get(REGIE)
    assert await later(services, clock, slack(services, client)) == 2
    posted = texts(fake_slack, REGIE)
    assert [str(first.value) in posted[0], str(second.value) in posted[1]] == [True, True]


async def test_the_latest_tally_waits_too_behind_an_older_retry(
        services: Services, clock: Clock, fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    """The edit that sends the latest tally after a burst of votes also keeps its place behind
    an older message to the channel that waits for its retry; it is not left claimed."""
    clock.set(at(11, 19, 10))
    reference = str((await file(services)).value)
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    assert await outbox.dispatch_outbox(services, slack(services, client), "vooraf") > 0
    waiting_melding = await file(services, "anna")
    fake_slack.fail("chat.postMessage", times=1, status=500)
    assert not (await slack(services, client).send(services, waiting_melding.outgoing)).complete
    vote = await stemmen.cast_vote(services, member(services.org, "dirk"), reference, "q1", "ja")
    key = str(vote.outgoing[0].update_key)
    door = slack(services, client)
    assert await outbox.send_latest(services, door, door.worker_id, key) == outbox.Sending(waiting=1)
    [tally] = [r for r in waiting(await rows(services)) if r.update_key == key]
    assert tally.claimed_by is None and not fake_slack.of("chat.update")
    await later(services, clock, slack(services, client))
    assert not waiting(await rows(services))
    posted = texts(fake_slack, REGIE)
    melding_at = next(n for n, text in enumerate(posted) if str(waiting_melding.value) in text)
    tally_at = next(n for n, text in enumerate(posted) if f"Stemmen {reference}" in text)
    assert melding_at < tally_at  # the older one went first
