"""Socket Mode: with SLACK_APP_TOKEN the bot connects over a WebSocket (to the fake server)
and handles /melding the same way as over HTTP."""

from __future__ import annotations

import asyncio

from bot.delivery import Deliveries
from bot.settings import Settings
from bot.slack import create_slack
from commands.context import Services
from tests.fakeslack import BOT_TOKEN, FakeSlack


async def test_socket_mode_opens_the_melding_modal(fake_slack: FakeSlack, services: Services) -> None:
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN="xapp-1-test",
                        SLACK_API_URL=fake_slack.api_url, REGIEBOT_SECRET_KEY="x")
    adapter = create_slack(services, settings, Deliveries(), pace_seconds=0)
    await adapter.start_socket_mode()
    try:
        for _ in range(200):
            if fake_slack.sockets:
                break
            await asyncio.sleep(0.01)
        fake_slack.send_envelope("slash_commands", {
            "token": "x", "team_id": "T0REGIE", "team_domain": "regie", "channel_id": "D0DM",
            "user_id": "U0ANNA", "user_name": "anna", "command": "/melding", "text": "",
            "api_app_id": "A0REGIE", "response_url": fake_slack.response_url("sock"),
            "trigger_id": "1.2.socket",
        }, envelope_id="env-1")
        opened = await fake_slack.wait_for("views.open")
        assert opened[0].args["trigger_id"] == "1.2.socket"
        for _ in range(200):
            if fake_slack.socket_acks:
                break
            await asyncio.sleep(0.01)
        assert fake_slack.socket_acks[0]["envelope_id"] == "env-1"
    finally:
        await adapter.stop()
