"""`regiebot run` as a service manager runs it: no terminal, SIGTERM to stop.

- Without tokens and without a terminal it refuses to start (no silent console restart loop).
- Webhook mode needs a fixed secret shared by every replica.
- SIGTERM while a reminder is being delivered to a platform that does not answer: the process
  stops (the batch gets a few seconds, then is given up) and gives its claim back, so the
  reminder is sent at once by another replica or the next start, not after 15 minutes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from store.db import make_engine, make_sessionmaker, upgrade
from store.models import Reminder
from tests.conftest import EXAMPLE_ORG, TEST_KEY
from tests.faketelegram import free_port

STOP_WITHIN = 10.0  # generous bound on the process exit; the bot itself drains for 3 s at most


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "TELEGRAM_", "REGIEBOT_"))}
    return {**env, "REGIEBOT_CONFIG": str(EXAMPLE_ORG), **extra}


async def _run(tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, err.decode()


async def test_run_without_tokens_and_without_a_terminal_refuses_to_start(tmp_path: Path) -> None:
    code, err = await _run(tmp_path, _env())
    assert code != 0
    assert "geen SLACK_BOT_TOKEN of TELEGRAM_BOT_TOKEN" in err
    assert "regiebot console" in err
    assert "Traceback" not in err


async def test_webhook_mode_without_a_fixed_secret_refuses_to_start(tmp_path: Path) -> None:
    env = _env(TELEGRAM_BOT_TOKEN="123:abc", TELEGRAM_WEBHOOK_URL="https://bot.example.nl/telegram/x",
               REGIEBOT_SECRET_KEY=TEST_KEY, REGIEBOT_DATABASE_URL=f"sqlite:///{tmp_path}/r.db")
    code, err = await _run(tmp_path, env)
    assert code != 0
    assert "TELEGRAM_WEBHOOK_SECRET" in err and "Traceback" not in err


async def test_run_refuses_a_database_that_is_not_migrated(tmp_path: Path) -> None:
    env = _env(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="geheim", REGIEBOT_SECRET_KEY=TEST_KEY,
               REGIEBOT_DATABASE_URL=f"sqlite:///{tmp_path}/leeg.db")
    code, err = await _run(tmp_path, env)
    assert code != 0
    assert "regiebot db upgrade" in err and "Traceback" not in err


async def test_slack_http_mode_without_a_signing_secret_refuses_to_start_cleanly(
        tmp_path: Path) -> None:
    """The Slack adapter is stopped (its Web API session closed) when the start is refused."""
    url = f"sqlite:///{tmp_path}/r.db"
    upgrade(url)
    env = _env(SLACK_BOT_TOKEN="xoxb-test", REGIEBOT_SECRET_KEY=TEST_KEY, REGIEBOT_DATABASE_URL=url)
    code, err = await _run(tmp_path, env)
    assert code != 0
    assert "SLACK_SIGNING_SECRET ontbreekt" in err
    assert "Traceback" not in err and "Unclosed client session" not in err


class SilentSlack:
    """A Slack Web API that takes requests and never answers them."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.port = free_port()

    async def _api(self, _request: web.Request) -> web.Response:
        self.arrived.set()
        await self.release.wait()
        return web.json_response({"ok": False, "error": "fatal_error"})


@pytest.fixture
async def silent_slack() -> AsyncIterator[SilentSlack]:
    slack = SilentSlack()
    app = web.Application()
    app.router.add_route("*", "/api/{method}", slack._api)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", slack.port).start()
    yield slack
    slack.release.set()
    await runner.cleanup()


async def _line_with(process: asyncio.subprocess.Process, words: str) -> None:
    assert process.stderr is not None
    while words not in (await process.stderr.readline()).decode():
        assert not process.stderr.at_eof(), "de bot is gestopt voordat hij draaide"


async def _reminders(url: str) -> list[Reminder]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return list((await session.scalars(select(Reminder))).all())
    finally:
        await engine.dispose()


async def test_sigterm_stops_the_bot_and_gives_back_its_reminder_claims(
    tmp_path: Path, silent_slack: SilentSlack
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/regiebot.db"
    upgrade(url)
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        session.add(Reminder(dedupe_key="sigterm:1", kind="bezorging_mislukt", target_member_id="joost",
                             due_at=datetime.now(UTC) - timedelta(minutes=5),
                             payload={"soort": "termijn", "pogingen": 1, "bestemming": "test"}))
    await engine.dispose()
    env = _env(REGIEBOT_DATABASE_URL=url, REGIEBOT_SECRET_KEY=TEST_KEY,
               REGIEBOT_HTTP_PORT=str(free_port()), SLACK_BOT_TOKEN="xoxb-test",
               SLACK_SIGNING_SECRET="geheim", SLACK_API_URL=f"http://127.0.0.1:{silent_slack.port}/api/")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    try:
        await asyncio.wait_for(silent_slack.arrived.wait(), 60)  # the reminder is on its way
        [claimed] = await _reminders(url)
        assert claimed.claimed_at is not None and claimed.sent_at is None

        await asyncio.wait_for(_line_with(process, "regiebot draait op"), 60)  # fully started

        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), STOP_WITHIN)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.stderr is not None
    err = (await process.stderr.read()).decode()
    assert code == 0, err
    [reminder] = await _reminders(url)
    assert reminder.claimed_at is None and reminder.claimed_by is None
    assert reminder.sent_at is None and reminder.failed_at is None
