"""`regiebot run` with Telegram: the platform runner starts the adapter (long polling against
the fake Bot API server), the bot answers, and it stops cleanly."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from cryptography.fernet import Fernet

from bot.platforms import run_platforms
from tests.conftest import EXAMPLE_ORG
from tests.faketelegram import FakeTelegram, free_port, telegram_settings

ANNA = 5001


async def test_regiebot_run_serves_telegram(sqlite_template: Path, tmp_path: Path) -> None:
    database = tmp_path / "regiebot.db"
    shutil.copy(sqlite_template, database)
    fake = FakeTelegram()
    await fake.start()
    settings = telegram_settings(
        fake, REGIEBOT_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        REGIEBOT_CONFIG=str(EXAMPLE_ORG), REGIEBOT_SECRET_KEY=Fernet.generate_key().decode(),
        REGIEBOT_HTTP_PORT=free_port(),
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(run_platforms(settings, stop))
    try:
        await fake.next_call("setMyCommands", wait=15)
        fake.send_text(ANNA, "/start")
        reply = await fake.next_call("sendMessage", ANNA, contains="Regieteam-bot", wait=15)
        assert "Anna de Vries" in reply.text
    finally:
        stop.set()
        await asyncio.wait_for(runner, 20)
        await fake.stop()
    assert not runner.exception()
