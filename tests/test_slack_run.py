"""`regiebot run` with SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET serves Slack over HTTP on the
shared server (together with the scheduler and /healthz)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
from cryptography.fernet import Fernet

from bot.platforms import run_platforms
from bot.settings import Settings
from store.db import upgrade
from tests.fakeslack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackBot

EXAMPLE = Path(__file__).resolve().parent.parent / "deploy" / "regieteam.example.yaml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_run_serves_slack_events(fake_slack: FakeSlack, tmp_path: Path) -> None:
    database = tmp_path / "regiebot.db"
    upgrade(f"sqlite:///{database}")
    port = free_port()
    settings = Settings(
        _env_file=None, REGIEBOT_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        REGIEBOT_CONFIG=str(EXAMPLE), REGIEBOT_SECRET_KEY=Fernet.generate_key().decode(),
        REGIEBOT_HTTP_HOST="127.0.0.1", REGIEBOT_HTTP_PORT=port, SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake_slack.api_url,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_platforms(settings, stop))
    bot = SlackBot(fake_slack, services=None)
    bot.url = f"http://127.0.0.1:{port}/slack/events"
    bot.session = aiohttp.ClientSession()
    try:
        for _ in range(300):
            try:
                async with bot.session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        status, _ = await bot.slash("U0ANNA", "/melding")
        assert status == 200
        opened = await fake_slack.wait_for("views.open")
        assert opened[0].args["view"]["callback_id"] == "melding"
        status, _ = await bot.slash("U0ANNA", "/melding", signed=False)
        assert status == 401
    finally:
        await bot.session.close()
        stop.set()
        await asyncio.wait_for(running, 20)
