"""Two `regiebot run` processes on one PostgreSQL database against the fake Bot API.

- Long polling: only the scheduler leader polls (Telegram allows one poller per bot), the
  standby does not; killing the leader hands the scheduler and the polling over, and the bot
  goes on answering.
- Webhook with the fixed shared secret: both accept updates; an update delivered to both
  (a redelivery through a load balancer) is answered once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from store.db import upgrade
from tests.conftest import EXAMPLE_ORG, PG_ADMIN_URL, TEST_KEY, _pg_available
from tests.faketelegram import FakeTelegram, free_port

ANNA = 5001


@pytest.fixture
def replica_database() -> Iterator[str]:
    problem = _pg_available()
    if problem:
        pytest.skip(f"PostgreSQL is niet bereikbaar: {problem}")
    name = f"regiebot_replicas_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Replica:
    def __init__(self, name: str, process: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.name, self.process, self.port, self.log = name, process, port, log

    async def health(self) -> dict[str, Any] | None:
        try:
            async with aiohttp.ClientSession() as client, \
                    client.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                report: dict[str, Any] = await response.json()
                return report
        except aiohttp.ClientError:
            return None

    async def wait_until(self, condition: str, check: Any, within: float = 90) -> dict[str, Any]:
        """Check /healthz until `check(report)` holds (a condition, not a pause)."""
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            assert self.process.returncode is None, f"{self.name} stopte: {self.log.read_text()[-3000:]}"
            report = await self.health()
            if report is not None and check(report):
                return report
            await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name}: {condition} bleef uit; {await self.health()}")


def _role(report: dict[str, Any]) -> tuple[str, bool]:
    checks = report["checks"]
    return checks["scheduler"]["role"], checks["telegram"].get("polling", False)


async def _start(name: str, url: str, fake_telegram: FakeTelegram, tmp_path: Path,
                 port: int | None = None, **extra: str) -> Replica:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_", "REGIEBOT_"))}
    env.update(REGIEBOT_DATABASE_URL=url, REGIEBOT_CONFIG=str(EXAMPLE_ORG), REGIEBOT_SECRET_KEY=TEST_KEY,
               REGIEBOT_HTTP_HOST="127.0.0.1", REGIEBOT_HTTP_PORT=str(port),
               TELEGRAM_BOT_TOKEN=fake_telegram.token, TELEGRAM_API_URL=fake_telegram.url, **extra)
    log = tmp_path / f"{name}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=tmp_path, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=sink)
    replica = Replica(name, process, port, log)
    await replica.wait_until("opstarten", lambda report: "scheduler" in report["checks"])
    return replica


async def _end(replica: Replica) -> None:
    if replica.process.returncode is None:
        replica.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(replica.process.wait(), 20)
        except TimeoutError:
            replica.process.kill()
            await replica.process.wait()


async def test_only_the_leader_polls_telegram_and_killing_it_hands_over(
    replica_database: str, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    first = await _start("eerste", replica_database, fake_telegram, tmp_path)
    second = None
    try:
        await first.wait_until("leider met polling", lambda r: _role(r) == ("leader", True))
        second = await _start("tweede", replica_database, fake_telegram, tmp_path)
        report = await second.wait_until("stand-by", lambda r: "telegram" in r["checks"])
        assert _role(report) == ("standby", False)
        assert report["checks"]["telegram"]["ok"] is True  # connected, just not fetching updates

        fake_telegram.send_text(ANNA, "/start")
        await fake_telegram.next_call("sendMessage", ANNA, contains="Regieteam-bot", wait=30)

        first.process.kill()  # no clean stop: the database ends its session and its lock
        await first.process.wait()
        await second.wait_until("overname", lambda r: _role(r) == ("leader", True), within=120)

        mark = fake_telegram.mark()
        fake_telegram.send_text(ANNA, "/help")
        await fake_telegram.next_call("sendMessage", ANNA, after=mark, wait=30)
    finally:
        await _end(first)
        if second is not None:
            await _end(second)


WEBHOOK_SECRET = "gedeeld-geheim-voor-beide-instanties"


async def _post_update(replica: Replica, update: dict[str, Any]) -> int:
    async with aiohttp.ClientSession() as client, client.post(
            f"http://127.0.0.1:{replica.port}/telegram/webhook", json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}) as response:
        return response.status


async def test_webhook_replicas_share_the_secret_and_answer_an_update_once(
    replica_database: str, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    ports = [free_port(), free_port()]
    webhook = {"TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{ports[0]}/telegram/webhook",
               "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET}
    replicas: list[Replica] = []
    try:
        for name, port in zip(("eerste", "tweede"), ports, strict=True):
            replica = await _start(name, replica_database, fake_telegram, tmp_path, port, **webhook)
            replicas.append(replica)
            await replica.wait_until("webhook", lambda r: r["checks"].get("telegram", {}).get("ok"))
        first, second = replicas
        assert fake_telegram.webhook is not None and fake_telegram.webhook["secret_token"] == WEBHOOK_SECRET

        once = fake_telegram.message_update(ANNA, "/help")
        assert await _post_update(first, once) == 200
        await fake_telegram.next_call("sendMessage", ANNA, contains="Wat kan ik", wait=30)
        assert await _post_update(second, once) == 200  # the same update again, elsewhere
        # The bot handles its updates one after the other: once the next update is answered,
        # the repeated one has been handled (and skipped) before it.
        mark = fake_telegram.mark()
        assert await _post_update(second, fake_telegram.message_update(ANNA, "/start")) == 200
        await fake_telegram.next_call("sendMessage", ANNA, after=mark, contains="Regieteam-bot", wait=30)
        assert len([c for c in fake_telegram.sent("sendMessage", ANNA) if "Wat kan ik" in c.text]) == 1
    finally:
        for replica in replicas:
            await _end(replica)
