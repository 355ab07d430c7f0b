"""Retries, double clicks, unknown users, errors, App Home, reports: nothing twice, nothing
personal in public, always a calm answer."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from commands.context import Services
from store.models import Event, ProcessedRequest, Vote
from tests.fakeslack import Call, FakeSlack, SlackBot, all_text, button_named
from tests.helpers import file

REF = "RT-2026-0001"



async def events(services: Services, kind: str) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == kind)) or 0)


async def post_agenda(slack_bot: SlackBot, fake: FakeSlack) -> Call:
    before = len(fake.of("response_url"))
    await slack_bot.slash("U0CARLA", "/agenda", "plaats", channel="C0REGIE")
    await fake.wait_for("response_url", before + 1)
    await fake.work_done()
    return next(c for c in fake.of("chat.postMessage") if "regie|stem|" in all_text(c.args))


async def test_agenda_posted_twice_is_updated_in_place(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                       services: Services) -> None:
    await file(services)
    await post_agenda(slack_bot, fake_slack)
    posted = len(fake_slack.of("chat.postMessage"))
    await post_agenda(slack_bot, fake_slack)
    assert len(fake_slack.of("chat.postMessage")) == posted
    assert len(fake_slack.of("chat.update")) == 2  # the agenda and the case's thread opener


async def test_retried_click_is_handled_once(slack_bot: SlackBot, fake_slack: FakeSlack,
                                             services: Services) -> None:
    await file(services)
    opener = await post_agenda(slack_bot, fake_slack)
    button = button_named(opener.args["blocks"], "toon_gegevens")
    await slack_bot.click("U0CARLA", button, action_ts="1790000000.555555")
    await slack_bot.click("U0CARLA", button, action_ts="1790000000.555555",
                    headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    await fake_slack.work_done()
    assert await events(services, "personal_data_viewed") == 1
    async with services.sessions() as session:
        keys = (await session.scalars(select(ProcessedRequest.key))).all()
    assert "slack:action:carla:1790000000.555555" in keys


async def test_a_click_slack_shows_as_taken_is_already_stored(
        slack_bot: SlackBot, fake_slack: FakeSlack, services: Services) -> None:
    """The vote is acknowledged only once it is stored: a bot that stops right after Slack
    got its answer has not lost the click."""
    await file(services)
    opener = await post_agenda(slack_bot, fake_slack)
    status, _ = await slack_bot.click("U0DIRK", button_named(opener.args["blocks"], "stem",
                                                             f"{REF}|q1|ja"))
    assert status == 200
    async with services.sessions() as session:  # read at once: no waiting for the listener
        assert await session.scalar(select(func.count()).select_from(Vote)) == 1
    await fake_slack.work_done()


async def test_unknown_user_click_gets_polite_refusal(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                      services: Services) -> None:
    await file(services)
    opener = await post_agenda(slack_bot, fake_slack)
    before = len(fake_slack.of("response_url"))
    await slack_bot.click("U0STRANGER", button_named(opener.args["blocks"], "stem", f"{REF}|q1|ja"))
    answers = await fake_slack.wait_for("response_url", before + 1)
    assert answers[-1].args["response_type"] == "ephemeral"
    assert "Joost van Dam" in all_text(answers[-1].args)


async def test_help_and_unknown_subcommand(slack_bot: SlackBot) -> None:
    status, text = await slack_bot.slash("U0DIRK", "/regie", "")
    assert status == 200 and "/regie stem" in text and "/terugkoppeling" in text
    assert "/melding" not in text  # help lists what the member's roles may use
    _, text = await slack_bot.slash("U0DIRK", "/regie", "vliegen")
    assert "/regie help" in text
    _, text = await slack_bot.slash("U0DIRK", "/terugkoppeling", "")
    assert "/terugkoppeling RT-" in text


async def test_unexpected_error_gives_calm_answer_and_no_personal_log(
    slack_bot: SlackBot, fake_slack: FakeSlack, services: Services, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import commands.status

    secret = "Jan " + "Fictief"

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(secret)

    monkeypatch.setattr(commands.status, "status_overview", broken)
    caplog.set_level(logging.DEBUG)
    before = len(fake_slack.of("response_url"))
    await slack_bot.slash("U0JOOST", "/status")
    answers = await fake_slack.wait_for("response_url", before + 1)
    assert "Er ging iets mis" in all_text(answers[-1].args)
    assert "Jan Fictief" not in caplog.text
    assert "RuntimeError" in caplog.text


async def test_rapport_files_uploaded_to_the_coordinator(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                        services: Services) -> None:
    await file(services)
    await slack_bot.slash("U0JOOST", "/regie", "rapport csv")
    done = await fake_slack.wait_for("files.completeUploadExternal", 1, within=20)
    assert done[0].args.get("channel_id") == "DU0JOOST"
    uploads = await fake_slack.wait_for("upload", 2)
    assert all(u.args["size"] > 0 for u in uploads)


async def test_status_and_timeline_are_ephemeral(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                 services: Services) -> None:
    await file(services)
    before = len(fake_slack.of("response_url"))
    await slack_bot.slash("U0JOOST", "/status", channel="C0REGIE")
    await slack_bot.slash("U0JOOST", "/status", REF, channel="C0REGIE")
    answers = await fake_slack.wait_for("response_url", before + 2)
    assert all(a.args["response_type"] == "ephemeral" for a in answers[before:])
    assert not [c for c in fake_slack.of("chat.postMessage") if c.args["channel"] == "C0REGIE"]


@pytest.mark.parametrize("user", ["U0DIRK", "U0CARLA", "U0JOOST", "U0ANNA", "U0NOBODY"])
async def test_app_home_per_role(slack_bot: SlackBot, fake_slack: FakeSlack, services: Services,
                                 user: str) -> None:
    await file(services)
    event = {"type": "app_home_opened", "user": user, "channel": "D0X", "tab": "home",
             "event_ts": "1790000000.2"}
    await slack_bot.event(event, f"Ev{user}")
    published = await fake_slack.wait_for("views.publish")
    text = all_text(published[0].args["view"])
    expected = {"U0DIRK": "casemanager", "U0CARLA": "Nog te bespreken", "U0JOOST": "Overzicht",
                "U0ANNA": "Open meldingen van Talis", "U0NOBODY": "Joost van Dam"}[user]
    assert expected in text
    assert "Jan Fictief" not in text


async def test_vote_by_slash_command_and_q2_form(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                 services: Services) -> None:
    from store.models import Vote

    await file(services)
    await post_agenda(slack_bot, fake_slack)
    before = len(fake_slack.of("response_url"))
    await slack_bot.slash("U0DIRK", "/regie", f"stem {REF} q1 ja", channel="C0REGIE")
    await fake_slack.wait_for("response_url", before + 1)
    await slack_bot.slash("U0DIRK", "/regie", f"stem {REF} q2")
    await fake_slack.wait_for("views.open")
    assert fake_slack.last_view("stappen")["private_metadata"].count(REF) == 1
    _, text = await slack_bot.slash("U0DIRK", "/regie", "stem")
    assert "/regie stem RT-2026-0001 q1 ja" in text
    _, text = await slack_bot.slash("U0CARLA", "/regie", f"sluit {REF} weg")
    assert "blijft_betalingsregeling" in text
    await fake_slack.work_done()
    async with services.sessions() as session:
        votes = (await session.scalars(select(Vote))).all()
    assert [(v.member_id, v.question, v.choice) for v in votes] == [("dirk", "q1", "ja")]


async def test_postpone_reminder_through_its_form(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                  services: Services) -> None:
    from store.models import Case, Reminder

    await file(services)
    async with services.transaction() as session:
        case = await session.scalar(select(Case))
        assert case is not None
        reminder = Reminder(dedupe_key="test:uitstel", kind="termijn", case_id=case.id,
                            target_member_id="dirk", due_at=services.now())
        session.add(reminder)
    button = {"action_id": "regie|herinnering_uitstellen|0", "value": str(reminder.id),
              "text": {"type": "plain_text", "text": "Uitstellen"}}
    await slack_bot.click("U0DIRK", button, channel="DU0DIRK")
    await fake_slack.wait_for("views.open")
    view = fake_slack.last_view("uitstellen")
    _, answer = await slack_bot.submit("U0DIRK", view, {"datum": "2026-12-10", "reden": "Eerst overleg"})
    assert answer["response_action"] == "update"
    async with services.sessions() as session:
        row = await session.get(Reminder, reminder.id)
        assert row is not None and row.postponed_to is not None


async def test_agenda_button_under_agenda_posts_it(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                   services: Services) -> None:
    await file(services)
    before = len(fake_slack.of("response_url"))
    await slack_bot.slash("U0CARLA", "/agenda")
    shown = await fake_slack.wait_for("response_url", before + 1)
    button = button_named(shown[-1].args["blocks"], "agenda_plaatsen")
    await slack_bot.click("U0CARLA", button, channel="D0DM")
    await fake_slack.wait_for("chat.postMessage", 2)
    await fake_slack.work_done()
    channels = [c.args["channel"] for c in fake_slack.of("chat.postMessage")]
    assert channels == ["C0REGIE", "C0REGIE"]  # the agenda and the case's thread opener
