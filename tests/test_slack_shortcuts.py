"""Message shortcuts on a case message in Slack, over HTTP with signed `message_action`
payloads: Stemmen, Terugkoppeling geven, Status tonen and Casus sluiten find the case from the
message they are used on (the thread's first message or any message in the thread), open
the same form as the case's buttons, and answer privately."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import func, select

from bot.slack.shortcuts import SLUITEN, STATUS, STEMMEN, TERUGKOPPELING
from commands.context import Services
from store.models import Case, ThreadRef, Vote
from tests.fakeslack import Call, FakeSlack, SlackBot, all_text, button_named
from tests.helpers import file

REF = "RT-2026-0001"
REPLY_TS = "1790000999.000001"  # a member's message inside the case's thread
HOUSEHOLD = ("Jan Fictief", "Verzonnenstraat", "6511 AB")


async def case_thread(slack_bot: SlackBot, fake: FakeSlack, services: Services) -> str:
    """A filed case on the posted agenda; the ts of the message that starts its thread."""
    await file(services)
    status, _ = await slack_bot.slash("U0CARLA", "/agenda", "plaats", channel="C0REGIE")
    assert status == 200
    await fake.wait_for("chat.postMessage", 2)
    await slack_bot.idle()
    await fake.work_done()
    async with services.sessions() as session:
        ref = await session.scalar(select(ThreadRef).where(ThreadRef.purpose == "case_thread"))
    assert ref is not None and ref.channel == "C0REGIE"
    return ref.message_ref


async def in_uitvoering(services: Services) -> None:
    async with services.transaction() as session:
        case = await session.scalar(select(Case).where(Case.reference == REF))
        assert case is not None
        case.phase, case.casemanager_id, case.termijn = "in_uitvoering", "dirk", date(2027, 2, 24)


async def votes(services: Services) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Vote)) or 0)


async def private_answer(slack_bot: SlackBot, fake: FakeSlack, user: str, callback_id: str,
                         **where: Any) -> Call:
    """Use the shortcut and wait for its one ephemeral answer."""
    before = len(fake.of("response_url"))
    status, _ = await slack_bot.shortcut(user, callback_id, **where)
    assert status == 200
    answers = await fake.wait_for("response_url", before + 1)
    await slack_bot.idle()
    answer = answers[before]
    assert answer.args["response_type"] == "ephemeral" and answer.args["replace_original"] is False
    return answer


async def opened_form(slack_bot: SlackBot, fake: FakeSlack, user: str, callback_id: str,
                      form: str, **where: Any) -> dict[str, Any]:
    before = len(fake.of("views.open"))
    status, _ = await slack_bot.shortcut(user, callback_id, **where)
    assert status == 200
    await fake.wait_for("views.open", before + 1)
    await slack_bot.idle()
    view = fake.last_view(form)
    assert json.loads(view["private_metadata"])["v"] == REF
    return view


def opener_blocks(fake: FakeSlack) -> list[dict[str, Any]]:
    """The buttons of the message that starts the case's thread."""
    return list(next(c for c in fake.of("chat.postMessage")
                     if "regie|stem|" in all_text(c.args)).args["blocks"])


def nothing_personal_in_channels(fake: FakeSlack) -> None:
    for call in fake.of("chat.postMessage") + fake.of("chat.update"):
        if str(call.args["channel"]).startswith("C"):
            text = all_text(call.args)
            assert not any(word in text for word in HOUSEHOLD), text


async def test_vote_from_a_message_in_the_thread(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                 services: Services) -> None:
    fake = fake_slack
    opener = await case_thread(slack_bot, fake, services)
    posted = len(fake.of("chat.postMessage"))
    answer = await private_answer(slack_bot, fake, "U0DIRK", STEMMEN, message_ts=REPLY_TS,
                                  thread_ts=opener)
    assert REF in all_text(answer.args)
    assert not fake.of("views.open")
    blocks = answer.args["blocks"]

    # the buttons of the private answer vote as those on the case message
    await slack_bot.click("U0DIRK", button_named(blocks, "stem", f"{REF}|q1|ja"),
                          message_ts=REPLY_TS)
    await slack_bot.idle()
    await fake.work_done()
    assert await votes(services) == 1

    # question 2 through the same checklist form as the case message's button
    await slack_bot.click("U0DIRK", button_named(blocks, "stappen_kiezen"), message_ts=REPLY_TS)
    await fake.wait_for("views.open")
    view = fake.last_view("stappen")
    assert json.loads(view["private_metadata"])["v"] == REF
    _, submitted = await slack_bot.submit("U0DIRK", view, {"stappen": ["huisbezoek"]})
    assert submitted["response_action"] == "update"
    await slack_bot.idle()
    await fake.work_done()
    assert await votes(services) == 2
    # the shortcut itself posted nothing in the channel; the tally did, without the household
    assert all(c.args.get("thread_ts") == opener
               for c in fake.of("chat.postMessage")[posted:] if c.args["channel"] == "C0REGIE")
    nothing_personal_in_channels(fake)


async def test_terugkoppeling_and_sluiten_open_their_forms(
    slack_bot: SlackBot, fake_slack: FakeSlack, services: Services
) -> None:
    fake = fake_slack
    opener = await case_thread(slack_bot, fake, services)
    await in_uitvoering(services)
    answered = len(fake.of("response_url"))

    # on the message that starts the thread
    view = await opened_form(slack_bot, fake, "U0DIRK", TERUGKOPPELING, "terugkoppeling",
                             message_ts=opener)
    assert REF in all_text({"blocks": view["blocks"]})
    updated = (await fake.wait_for("views.update"))[-1]  # completed from the database
    assert updated.args["view"]["callback_id"] == "terugkoppeling"
    assert any(b.get("block_id") == "tekst" for b in updated.args["view"]["blocks"])

    # on a message in the thread
    view = await opened_form(slack_bot, fake, "U0CARLA", SLUITEN, "sluiten",
                             message_ts=REPLY_TS, thread_ts=opener)
    assert view["title"]["text"] == "Casus sluiten"
    assert REF in all_text({"blocks": view["blocks"]})
    assert len(fake.of("response_url")) == answered  # no refusal, no other answer
    nothing_personal_in_channels(fake)


async def test_status_is_the_private_answer_of_slash_status(
    slack_bot: SlackBot, fake_slack: FakeSlack, services: Services
) -> None:
    fake = fake_slack
    opener = await case_thread(slack_bot, fake, services)
    posted = len(fake.of("chat.postMessage"))
    answer = await private_answer(slack_bot, fake, "U0FATIMA", STATUS, message_ts=REPLY_TS,
                                  thread_ts=opener)
    assert REF in all_text(answer.args)

    before = len(fake.of("response_url"))
    await slack_bot.slash("U0FATIMA", "/status", REF, channel="C0REGIE")
    slash_answer = (await fake.wait_for("response_url", before + 1))[before]
    await slack_bot.idle()
    assert answer.args["text"] == slash_answer.args["text"]
    assert answer.args["blocks"] == slash_answer.args["blocks"]
    assert len(fake.of("chat.postMessage")) == posted  # nothing in the channel
    assert not fake.of("views.open")

    # the chair may see the household: it comes too, as with /status, and only for her
    before = len(fake.of("response_url"))
    await slack_bot.shortcut("U0CARLA", STATUS, message_ts=opener)
    answers = (await fake.wait_for("response_url", before + 2))[before:]
    await slack_bot.idle()
    assert any("Jan Fictief" in all_text(a.args) for a in answers)
    assert all(a.args["response_type"] == "ephemeral" for a in answers)
    assert len(fake.of("chat.postMessage")) == posted
    nothing_personal_in_channels(fake)


async def test_only_signed_shortcuts_are_heard(slack_bot: SlackBot, fake_slack: FakeSlack,
                                               services: Services) -> None:
    fake = fake_slack
    opener = await case_thread(slack_bot, fake, services)
    answered = len(fake.of("response_url"))
    status, _ = await slack_bot.shortcut("U0CARLA", STATUS, message_ts=opener, signed=False)
    assert status == 401
    status, _ = await slack_bot.shortcut("U0CARLA", SLUITEN, message_ts=opener,
                                         timestamp=1_600_000_000)
    assert status == 401
    await slack_bot.idle()
    await fake.work_done()
    assert len(fake.of("response_url")) == answered and not fake.of("views.open")


async def test_a_message_that_is_not_about_a_case(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                  services: Services) -> None:
    fake = fake_slack
    opener = await case_thread(slack_bot, fake, services)
    places = [
        {"message_ts": "1790000555.000001"},                          # another message
        {"message_ts": REPLY_TS, "thread_ts": "1790000555.000001"},   # another thread
        {"message_ts": opener, "channel": "C0WEST"},                  # another channel
    ]
    for callback_id, where in zip((STEMMEN, TERUGKOPPELING, STATUS), places, strict=True):
        answer = await private_answer(slack_bot, fake, "U0CARLA", callback_id, **where)
        text = all_text(answer.args)
        assert "hoort niet bij een casus" in text and "draad" in text
    assert not fake.of("views.open")

    answer = await private_answer(slack_bot, fake, "U0NOBODY", SLUITEN, message_ts=opener)
    assert "hoort niet bij een casus" not in all_text(answer.args)  # an unknown Slack user
    assert not fake.of("views.open")


async def test_who_may_not_gets_the_refusal_of_the_button(
    slack_bot: SlackBot, fake_slack: FakeSlack, services: Services
) -> None:
    fake = fake_slack
    opener = await case_thread(slack_bot, fake, services)

    # the melder of the case may not vote: the same refusal as the case message's buttons
    answer = await private_answer(slack_bot, fake, "U0ANNA", STEMMEN, message_ts=opener)
    before = len(fake.of("response_url"))
    await slack_bot.click("U0ANNA", button_named(opener_blocks(fake), "stem", f"{REF}|q1|ja"),
                          message_ts=opener)
    button_answer = (await fake.wait_for("response_url", before + 1))[before]
    await slack_bot.idle()
    assert "stemmen mee" in all_text(answer.args)
    assert all_text(answer.args) == all_text(button_answer.args)

    # a melder of another corporation may not see the case at all
    answer = await private_answer(slack_bot, fake, "U0WENDY", SLUITEN, message_ts=REPLY_TS,
                                  thread_ts=opener)
    assert f"Je kunt {REF} niet bekijken" in all_text(answer.args)
    answer = await private_answer(slack_bot, fake, "U0WENDY", STATUS, message_ts=opener)
    assert f"Je kunt {REF} niet bekijken" in all_text(answer.args)
    assert not fake.of("views.open")
    assert await votes(services) == 0
    nothing_personal_in_channels(fake)


async def test_case_at_matches_the_message_and_its_thread(services: Services) -> None:
    from commands.threads import CASE_THREAD, ThreadPlace, case_at, record_place

    await file(services)
    async with services.sessions() as session:
        case_id = await session.scalar(select(Case.id).where(Case.reference == REF))
    assert case_id is not None
    await record_place(services, "slack", CASE_THREAD, case_id,
                       ThreadPlace("C0REGIE", "1790000000.000100", "1790000000.000050"))
    await record_place(services, "slack", "tally", case_id,
                       ThreadPlace("C0REGIE", "1790000000.000200", "1790000000.000100"))
    assert await case_at(services, "slack", "C0REGIE", "1790000000.000100") == REF
    assert await case_at(services, "slack", "C0REGIE", "1790000000.000050") == REF
    assert await case_at(services, "slack", "C0REGIE", "1790000000.000300",
                         "1790000000.000100") == REF
    # the tally's own place is not the case's thread; other channels and platforms do not count
    assert await case_at(services, "slack", "C0REGIE", "1790000000.000200") is None
    assert await case_at(services, "slack", "C0WEST", "1790000000.000100") is None
    assert await case_at(services, "telegram", "C0REGIE", "1790000000.000100") is None
    assert await case_at(services, "slack", "", "1790000000.000100") is None
    assert await case_at(services, "slack", "C0REGIE", "") is None
