"""Requests that are not Slack's own cause nothing; signed but malformed ones get a 400.

An attacker can reach /slack/events. Without a valid signature the request must not reach
any listener or error handler: no post to the `response_url` in the body, no direct message
to the member in `user_id`. Slack's own requests that are malformed get 400, one log line,
no traceback and nothing of the body in the log.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

import pytest

from bot.delivery import Deliveries
from bot.http import make_web_app, serve
from bot.telegram import create_telegram
from commands.context import Services
from tests.fakeslack import FakeSlack, SlackBot, sign
from tests.faketelegram import FakeTelegram, free_port, telegram_settings

COORDINATOR = "U0JOOST"
SECRET = "geheim_0123456789"


def slash_fields(fake: FakeSlack, name: str) -> dict[str, str]:
    return {"command": "/status", "text": "", "user_id": COORDINATOR, "team_id": "T0REGIE",
            "channel_id": "C0REGIE", "trigger_id": "1.2.3",
            "response_url": fake.response_url(name)}


def nothing_sent(fake: FakeSlack) -> bool:
    return not (fake.of("response_url") or fake.of("chat.postMessage")
                or fake.of("conversations.open") or fake.of("chat.postEphemeral")
                or fake.of("views.open"))


UNSIGNED = {
    "timestamp that is no number": {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"},
    "no timestamp": {"X-Slack-Signature": "v0=00"},
    "no headers at all": {},
    "timestamp of hours ago": None,  # signed correctly, but stale
    "wrong signature": {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=ab"},
    "huge timestamp": {"X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": "v0=ab"},
}


@pytest.mark.parametrize("attack", list(UNSIGNED))
async def test_unsigned_request_gets_401_and_causes_nothing(
    attack: str, slack_bot: SlackBot, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = urlencode(slash_fields(fake_slack, "attack"))
    headers = UNSIGNED[attack]
    if headers is None:
        headers = sign(body, timestamp=int(time.time()) - 3 * 3600)
    status, _ = await slack_bot.post(body, "application/x-www-form-urlencoded",
                                     headers=headers, signed=False)
    assert status == 401
    await slack_bot.idle()
    assert nothing_sent(fake_slack)
    assert "response/attack" not in caplog.text and COORDINATOR not in caplog.text


async def test_five_unsigned_requests_never_reach_the_coordinator(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    for n in range(5):
        fields = {**slash_fields(fake_slack, f"a{n}"), "response_url": ""}
        payload = json.dumps({"type": "block_actions", "user": {"id": COORDINATOR},
                              "actions": [{"action_id": "regie|stem", "value": "x"}],
                              "response_url": fake_slack.response_url(f"b{n}")})
        for body in (urlencode(fields), urlencode({"payload": payload})):
            status, _ = await slack_bot.post(
                body, "application/x-www-form-urlencoded",
                headers={"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=1"},
                signed=False)
            assert status == 401
    await slack_bot.idle()
    assert nothing_sent(fake_slack)


MALFORMED: dict[str, tuple[str, str]] = {
    "invalid JSON": ("{not json", "application/json"),
    "a JSON array": (json.dumps([{"type": "event_callback"}]), "application/json"),
    "payload that is no JSON": (urlencode({"payload": "{oops"}), "application/x-www-form-urlencoded"),
    "payload that is an array": (urlencode({"payload": "[1, 2]"}), "application/x-www-form-urlencoded"),
    "view without state values": (urlencode({"payload": json.dumps({
        "type": "view_submission", "user": {"id": COORDINATOR},
        "view": {"id": "V1", "type": "modal", "callback_id": "melding", "state": {"values": ["Jan Huurder"]}}})}),
        "application/x-www-form-urlencoded"),
    "view with a wrongly shaped value": (urlencode({"payload": json.dumps({
        "type": "view_submission", "user": {"id": COORDINATOR},
        "view": {"id": "V1", "type": "modal", "callback_id": "melding", "private_metadata": "",
                 "state": {"values": {"naam": {"v": {"type": "plain_text_input",
                                                      "value": {"Jan Huurder": 1}}}}}}})}),
        "application/x-www-form-urlencoded"),
    "actions that are no list": (urlencode({"payload": json.dumps({
        "type": "block_actions", "user": {"id": COORDINATOR}, "actions": "Jan Huurder"})}),
        "application/x-www-form-urlencoded"),
    "user without id": (urlencode({"payload": json.dumps({
        "type": "block_actions", "user": "Jan Huurder", "actions": []})}),
        "application/x-www-form-urlencoded"),
    "shortcut without its message": (urlencode({"payload": json.dumps({
        "type": "message_action", "callback_id": "regie_status", "trigger_id": "1.2",
        "user": {"id": COORDINATOR}, "channel": {"id": "C0REGIE"}, "message": "Jan Huurder"})}),
        "application/x-www-form-urlencoded"),
}


@pytest.mark.parametrize("shape", list(MALFORMED))
async def test_signed_malformed_payload_gets_400_without_traceback(
    shape: str, slack_bot: SlackBot, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body, content_type = MALFORMED[shape]
    status, _ = await slack_bot.post(body, content_type)
    assert status == 400
    await slack_bot.idle()
    assert nothing_sent(fake_slack)
    lines = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert all(r.exc_info is None for r in caplog.records)
    assert "Traceback" not in caplog.text and "Jan Huurder" not in caplog.text


async def test_telegram_webhook_refuses_malformed_updates(
    services: Services, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    import aiohttp

    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/updates"
    settings = telegram_settings(fake_telegram, TELEGRAM_WEBHOOK_URL=url,
                                 TELEGRAM_WEBHOOK_SECRET=SECRET)
    adapter = create_telegram(services, settings, Deliveries())
    web_app = make_web_app()
    adapter.add_routes(web_app)
    runner = await serve(web_app, "127.0.0.1", port)
    await adapter.start()
    caplog.set_level(logging.DEBUG)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    try:
        async with aiohttp.ClientSession() as session:
            for body in ("{not json", "[1, 2]", '"Jan Huurder"', "null"):
                async with session.post(url, data=body, headers=headers) as response:
                    assert response.status == 400, body
        assert not fake_telegram.sent("sendMessage")
        assert "Traceback" not in caplog.text and "Jan Huurder" not in caplog.text
    finally:
        await adapter.stop()
        await runner.cleanup()
