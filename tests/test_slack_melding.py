"""Slack over HTTP with signed requests: /melding, the modal, inline errors, the announcement."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from sqlalchemy import func, select

from commands.context import Services
from store.models import Case, ProcessedRequest
from tests.fakeslack import FakeSlack, SlackBot, all_text
from tests.helpers import valid_answers


def modal_values(**changes: Any) -> dict[str, Any]:
    """valid_answers in the shape the modal returns (datepicker ISO dates, select values)."""
    answers = valid_answers(dagvaarding="2026-12-01", zitting="2026-12-15", vonnis=None,
                            ontruiming=None, **changes)
    return answers


async def open_melding(slack_bot: SlackBot, user: str = "U0ANNA") -> dict[str, Any]:
    before = len(slack_bot.fake.of("views.open"))
    status, text = await slack_bot.slash(user, "/melding")
    assert status == 200 and text == ""
    calls = await slack_bot.fake.wait_for("views.open", before + 1)
    view: dict[str, Any] = slack_bot.fake.views[
        next(v for v, body in slack_bot.fake.views.items() if body["callback_id"] == "melding"
             and v not in [c.args.get("view_id") for c in calls[:before]])
    ]
    return view


async def count_cases(services: Services) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Case)) or 0)


async def test_melding_modal_error_then_success(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                services: Services) -> None:
    view = await open_melding(slack_bot)
    kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
    assert kinds["huishouden"] == "multi_static_select"
    assert kinds["zitting"] == "datepicker"
    assert kinds["minderjarige_kinderen"] == "number_input"
    assert kinds["wijk"] == "static_select"
    assert kinds["voortraject"] == "plain_text_input"
    assert "corporatie" not in kinds  # Anna files for her own corporation

    status, answer = await slack_bot.submit("U0ANNA", view, modal_values(postcode="12345"))
    assert status == 200
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"postcode"}
    assert await count_cases(services) == 0

    status, answer = await slack_bot.submit("U0ANNA", view, modal_values())
    assert answer["response_action"] == "update"
    assert "RT-2026-0001" in json.dumps(answer["view"])
    posts = await fake_slack.wait_for("chat.postMessage", 2)
    channels = {c.args["channel"] for c in posts}
    assert channels == {"C0REGIE", "DU0ANNA"}
    announcement = next(c for c in posts if c.args["channel"] == "C0REGIE")
    assert "RT-2026-0001" in all_text(announcement.args)
    assert "Jan Fictief" not in all_text(announcement.args)
    assert "Verzonnenstraat" not in all_text(announcement.args)
    assert await count_cases(services) == 1


async def test_double_submission_files_once(slack_bot: SlackBot, fake_slack: FakeSlack,
                                            services: Services) -> None:
    view = await open_melding(slack_bot)
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    first, again = await asyncio.gather(slack_bot.submit("U0ANNA", view, modal_values()),
                                        slack_bot.submit("U0ANNA", view, modal_values(), headers=retry))
    assert first[1]["response_action"] == again[1]["response_action"] == "update"
    await fake_slack.work_done()
    assert await count_cases(services) == 1
    posts = fake_slack.of("chat.postMessage")
    assert [c.args["channel"] for c in posts].count("C0REGIE") == 1


async def test_channel_mention_is_escaped(slack_bot: SlackBot, fake_slack: FakeSlack) -> None:
    view = await open_melding(slack_bot)
    await slack_bot.submit("U0ANNA", view, modal_values(wijk="Oost", reden="anders",
                                                   reden_anders="<!channel> en <@U0CARLA> & co"))
    await fake_slack.wait_for("chat.postMessage", 2)
    await fake_slack.work_done()
    for call in fake_slack.of("chat.postMessage"):
        text = all_text(call.args)
        assert "<!channel>" not in text and "<@U0CARLA>" not in text


async def test_unknown_user_gets_polite_refusal(slack_bot: SlackBot, fake_slack: FakeSlack) -> None:
    status, text = await slack_bot.slash("U0NOBODY", "/melding")
    assert status == 200
    assert "Joost van Dam" in text  # who to ask
    await fake_slack.work_done()
    assert fake_slack.of("views.open") == []


async def test_member_without_melder_role_is_refused(slack_bot: SlackBot, fake_slack: FakeSlack) -> None:
    status, text = await slack_bot.slash("U0DIRK", "/melding")
    assert status == 200 and text
    await fake_slack.work_done()
    assert fake_slack.of("views.open") == []


async def test_bad_signature_and_stale_timestamp_rejected(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                          services: Services) -> None:
    status, _ = await slack_bot.slash("U0ANNA", "/melding", signed=False)
    assert status == 401
    status, _ = await slack_bot.slash("U0ANNA", "/melding",
                                headers={"X-Slack-Signature": "v0=" + "0" * 64})
    assert status == 401
    status, _ = await slack_bot.slash("U0ANNA", "/melding", timestamp=int(time.time()) - 6 * 60)
    assert status == 401
    await fake_slack.work_done()
    assert fake_slack.of("views.open") == []


async def test_rate_limited_post_is_retried_once(slack_bot: SlackBot, fake_slack: FakeSlack) -> None:
    view = await open_melding(slack_bot)
    fake_slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    await slack_bot.submit("U0ANNA", view, modal_values())
    await fake_slack.wait_for("chat.postMessage", 2, within=10)
    await fake_slack.work_done()
    assert len(fake_slack.of("chat.postMessage#429")) == 1
    posts = fake_slack.of("chat.postMessage")
    assert sorted(c.args["channel"] for c in posts) == ["C0REGIE", "DU0ANNA"]


async def test_app_home_event_deduplicated(slack_bot: SlackBot, fake_slack: FakeSlack,
                                           services: Services) -> None:
    event = {"type": "app_home_opened", "user": "U0CARLA", "channel": "D0CARLA", "tab": "home",
             "event_ts": "1790000000.1"}
    assert (await slack_bot.event(event, "Ev0001"))[0] == 200
    assert (await slack_bot.event(event, "Ev0001", headers={"X-Slack-Retry-Num": "1"}))[0] == 200
    await fake_slack.wait_for("views.publish")
    await fake_slack.work_done()
    assert len(fake_slack.of("views.publish")) == 1
    async with services.sessions() as session:
        assert await session.get(ProcessedRequest, "slack:event:Ev0001") is not None


async def test_web_api_calls_reuse_one_open_connection(slack_bot: SlackBot, fake_slack: FakeSlack) -> None:
    """The bot keeps its connection to Slack's Web API open: a second call needs no new
    handshake. After a stop, a call still gets through on a connection of its own."""
    await open_melding(slack_bot)
    await open_melding(slack_bot)
    first, second = fake_slack.of("views.open")[-2:]
    assert first.connection is not None and first.connection == second.connection

    await slack_bot.adapter.stop()
    await slack_bot.adapter.client.auth_test()
    assert fake_slack.of("auth.test")[-1].connection not in (None, second.connection)
