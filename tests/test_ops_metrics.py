"""/metrics: Prometheus text that `prometheus_client.parser` reads, with the reminder figures
from the database, deliveries and failures per platform, and command latency."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.delivery import Deliveries, DeliveryFailed
from bot.http import make_web_app, serve
from bot.ops import Operations
from bot.platforms import run_platforms
from bot.settings import Settings
from commands.context import Services
from commands.replies import Destination, Message, Outgoing
from store.db import upgrade
from store.models import Reminder
from tests.conftest import EXAMPLE_ORG, TEST_KEY, Clock
from tests.fakeslack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackBot
from tests.faketelegram import free_port


class Courier:
    """A platform at the network edge: accepts, or refuses when told to."""

    platform = "testplatform"

    def __init__(self) -> None:
        self.refuse = False

    def can_reach(self, item: Outgoing) -> bool:
        return True

    async def deliver(self, item: Outgoing) -> None:
        if self.refuse:
            raise DeliveryFailed("geweigerd")


def _reminder(key: str, due_hours_ago: float, clock: Clock, **state: object) -> Reminder:
    return Reminder(dedupe_key=key, kind="bezorging_mislukt", target_member_id="joost",
                    due_at=(clock() - timedelta(hours=due_hours_ago)).astimezone(UTC),
                    payload={}, **state)


async def _scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    async with aiohttp.ClientSession() as client, \
            client.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        body = await response.text()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


async def test_metrics_parse_and_count_reminders_deliveries_and_latency(
    services: Services, clock: Clock
) -> None:
    now = clock()
    async with services.transaction() as session:
        session.add_all([
            _reminder("te-laat", 3, clock),  # due 3 h ago: due and overdue
            _reminder("net", 0.25, clock),  # due 15 min ago: due, not overdue
            _reminder("later", -2, clock),  # not due yet
            _reminder("verstuurd", 5, clock, sent_at=now - timedelta(hours=4)),
            _reminder("mislukt", 5, clock, failed_at=now - timedelta(hours=1)),
        ])
    courier = Courier()
    ops = Operations(services)
    deliveries = Deliveries([ops.counted(courier)])
    item = Outgoing(Destination("member", "joost"), Message("test"))
    await deliveries.deliver(item)
    await deliveries.deliver(item)
    courier.refuse = True
    with pytest.raises(DeliveryFailed):
        await deliveries.deliver(item)
    with ops.time_command("slack", "/melding"):
        pass
    port = free_port()
    runner = await serve(make_web_app(ops), "127.0.0.1", port)
    try:
        samples = await _scrape(port)
    finally:
        await runner.cleanup()

    reminders = {dict(labels)["state"]: value for labels, value in samples["regiebot_reminders"].items()}
    assert reminders == {"due": 2, "overdue": 1, "sent": 1, "failed": 1}
    assert samples["regiebot_reminder_dispatch_lag_seconds"][()] == 3 * 3600
    platform = (("platform", "testplatform"),)
    assert samples["regiebot_deliveries_total"][platform] == 2
    assert samples["regiebot_delivery_failures_total"][platform] == 1
    latency = (("command", "/melding"), ("platform", "slack"))
    assert samples["regiebot_command_duration_seconds_count"][latency] == 1
    assert samples["regiebot_check_up"][(("check", "database"),)] == 1


async def test_no_reminders_waiting_means_no_lag(services: Services) -> None:
    ops = Operations(services)
    port = free_port()
    runner = await serve(make_web_app(ops), "127.0.0.1", port)
    try:
        samples = await _scrape(port)
    finally:
        await runner.cleanup()
    assert samples["regiebot_reminder_dispatch_lag_seconds"][()] == 0
    assert samples["regiebot_reminders"][(("state", "due"),)] == 0


async def test_regiebot_run_times_slack_commands(fake_slack: FakeSlack, tmp_path: Path) -> None:
    """The wiring of `regiebot run`: a slash command over HTTP shows up in the histogram."""
    database = tmp_path / "regiebot.db"
    upgrade(f"sqlite:///{database}")
    port = free_port()
    settings = Settings(
        _env_file=None, REGIEBOT_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        REGIEBOT_CONFIG=str(EXAMPLE_ORG), REGIEBOT_SECRET_KEY=TEST_KEY,
        REGIEBOT_HTTP_HOST="127.0.0.1", REGIEBOT_HTTP_PORT=port, SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake_slack.api_url,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_platforms(settings, stop))
    bot = SlackBot(fake_slack, services=None)
    bot.url = f"http://127.0.0.1:{port}/slack/events"
    bot.session = aiohttp.ClientSession()
    try:
        for _ in range(600):  # until the server answers (a condition, checked every 50 ms)
            with contextlib.suppress(aiohttp.ClientError):
                async with bot.session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        break
            await asyncio.sleep(0.05)
        status, _ = await bot.slash("U0ANNA", "/melding")
        assert status == 200
        await fake_slack.wait_for("views.open")
        samples = await _scrape(port)
    finally:
        await bot.session.close()
        stop.set()
        await asyncio.wait_for(running, 20)
    latency = (("command", "/melding"), ("platform", "slack"))
    assert samples["regiebot_command_duration_seconds_count"][latency] == 1
    assert samples["regiebot_scheduler_leader"][()] == 1
