"""The audit over Slack (signed HTTP against the fake Slack API): every view is recorded with
door and purpose once the ephemeral answer was delivered, a failed delivery records nothing,
and `/regie audit` sends the coordinator the CSV in a direct message."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sqlalchemy import select

from commands import audit
from commands.context import Services
from store.models import Event
from tests.fakeslack import FakeSlack, SlackBot, all_text
from tests.helpers import file

TENANT = "Jan Fictief"


async def events_of(services: Services, kind: str) -> list[Event]:
    async with services.sessions() as session:
        return list((await session.scalars(
            select(Event).where(Event.kind == kind).order_by(Event.id))).all())


async def wait_for_events(services: Services, kind: str, count: int) -> list[Event]:
    """The adapter records a view just after Slack accepted the answer: wait for that row."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = await events_of(services, kind)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"{kind}: expected {count} events, found {len(found)}")


def toon_gegevens(reference: str) -> dict[str, object]:
    """The "Toon gegevens" button as the bot renders it on a case message."""
    return {"action_id": "regie|toon_gegevens|0", "value": reference,
            "text": {"type": "plain_text", "text": "Toon gegevens"}}


async def answers(fake: FakeSlack, count: int) -> str:
    return " ".join(all_text(c.args) for c in await fake.wait_for("response_url", count))


async def test_slack_views_are_exported_with_door_and_purpose(
    slack_bot: SlackBot, fake_slack: FakeSlack, services: Services
) -> None:
    ref = (await file(services)).value
    await slack_bot.slash("U0ANNA", "/regie", f"gegevens {ref}")
    assert TENANT in await answers(fake_slack, 1)
    await slack_bot.click("U0CARLA", toon_gegevens(ref))
    await slack_bot.slash("U0JOOST", "/status", ref)
    await slack_bot.slash("U0DIRK", "/regie", f"gegevens {ref}")  # refused
    await answers(fake_slack, 5)  # anna 1, carla 1, joost 2 (timeline and details), dirk 1
    for call in fake_slack.of("response_url"):
        assert call.args["response_type"] == "ephemeral"
    assert not any(TENANT in all_text(c.args) for c in fake_slack.of("chat.postMessage"))

    views = await wait_for_events(services, audit.VIEWED, 3)
    assert sorted((v.actor_id, v.data["deur"], v.data["doel"]) for v in views) == [
        ("anna", "slack", "/regie gegevens"), ("carla", "slack", "knop toon_gegevens"),
        ("joost", "slack", "/status")]

    await slack_bot.slash("U0JOOST", "/regie", f"audit {ref}")
    (upload,) = await fake_slack.wait_for("upload")
    (complete,) = await fake_slack.wait_for("files.completeUploadExternal")
    assert str(complete.args.get("channel_id") or complete.args.get("channels")) == "DU0JOOST"
    content = fake_slack.uploads[upload.args["file_id"]].decode()
    assert TENANT not in content
    rows = list(csv.DictReader(io.StringIO(content)))
    seen = {(r["gebeurtenis"], r["lid"], r["deur"], r["doel"]) for r in rows}
    assert {(audit.VIEWED, "anna", "slack", "/regie gegevens"),
            (audit.VIEWED, "carla", "slack", "knop toon_gegevens"),
            (audit.VIEWED, "joost", "slack", "/status"),
            (audit.REFUSED, "dirk", "slack", "/regie gegevens")} <= seen
    (exported,) = await events_of(services, audit.EXPORTED)
    assert exported.actor_id == "joost" and exported.data["doel"] == "/regie audit"


async def test_slack_audit_is_for_the_coordinator_only(
    slack_bot: SlackBot, fake_slack: FakeSlack, services: Services
) -> None:
    ref = (await file(services)).value
    await slack_bot.slash("U0CARLA", "/regie", f"audit {ref}")
    text = await answers(fake_slack, 1)
    assert "coordinator" in text or "coördinator" in text
    assert fake_slack.of("files.getUploadURLExternal") == []
    assert await events_of(services, audit.EXPORTED) == []


@pytest.fixture
async def gone_response_url() -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    """A response_url that has expired: Slack answers 404."""
    hits: list[dict[str, object]] = []

    async def expired(request: web.Request) -> web.Response:
        hits.append(await request.json())
        return web.Response(status=404, text="expired_url")

    app = web.Application()
    app.router.add_post("/gone", expired)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/gone", hits
    await runner.cleanup()


async def test_a_failed_slack_delivery_records_no_view(
    slack_bot: SlackBot, fake_slack: FakeSlack, services: Services,
    gone_response_url: tuple[str, list[dict[str, object]]], caplog: pytest.LogCaptureFixture,
) -> None:
    url, hits = gone_response_url
    ref = (await file(services)).value
    caplog.set_level(logging.WARNING, logger="bot.slack.adapter")
    not_delivered = asyncio.Event()

    class Watcher(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "niet bezorgd" in record.getMessage():
                not_delivered.set()

    watcher = Watcher()
    logging.getLogger("bot.slack.adapter").addHandler(watcher)
    status, _ = await slack_bot.post_form({
        "team_id": "T0REGIE", "channel_id": "D0DM", "user_id": "U0CARLA", "command": "/regie",
        "text": f"gegevens {ref}", "api_app_id": "A0REGIE", "response_url": url,
        "trigger_id": slack_bot.trigger(),
    })
    assert status == 200
    try:
        await asyncio.wait_for(not_delivered.wait(), 5)
    finally:
        logging.getLogger("bot.slack.adapter").removeHandler(watcher)
    assert len(hits) == 1  # the answer was tried once and did not arrive
    assert await events_of(services, audit.VIEWED) == []
    assert TENANT not in caplog.text
