"""Webhook mode: the bot's own HTTP server receives updates; the secret token is checked."""

from __future__ import annotations

from bot.delivery import Deliveries
from bot.http import make_web_app, serve
from bot.telegram import create_telegram
from commands.context import Services
from tests.faketelegram import FakeTelegram, free_port, telegram_settings

ANNA = 5001
SECRET = "geheim_0123456789"


async def test_webhook_updates_need_the_secret_token(
    services: Services, fake_telegram: FakeTelegram
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/updates"
    settings = telegram_settings(fake_telegram, TELEGRAM_WEBHOOK_URL=url, TELEGRAM_WEBHOOK_SECRET=SECRET)
    adapter = create_telegram(services, settings, Deliveries())
    web_app = make_web_app()
    adapter.add_routes(web_app)
    runner = await serve(web_app, "127.0.0.1", port)
    await adapter.start()
    try:
        assert fake_telegram.webhook is not None
        assert fake_telegram.webhook["url"] == url and fake_telegram.webhook["secret_token"] == SECRET
        assert not fake_telegram.sent("getUpdates") and not fake_telegram.sent("deleteWebhook")
        update = fake_telegram.message_update(ANNA, "/help")
        assert await fake_telegram.post_webhook(update, None) == 403
        assert await fake_telegram.post_webhook(update, "fout") == 403
        assert await fake_telegram.post_webhook(update, SECRET + "x") == 403
        assert not fake_telegram.sent("sendMessage")
        assert await fake_telegram.post_webhook(update, SECRET) == 200
        await fake_telegram.next_call("sendMessage", ANNA, contains="Wat kan ik")
        # Telegram repeats the update (e.g. our answer was slow): handled once
        assert await fake_telegram.post_webhook(update, SECRET) == 200
        second = fake_telegram.message_update(ANNA, "/start")
        assert await fake_telegram.post_webhook(second, SECRET) == 200
        await fake_telegram.next_call("sendMessage", ANNA, contains="Regieteam-bot")
        assert len([c for c in fake_telegram.sent("sendMessage", ANNA) if "Wat kan ik" in c.text]) == 1
    finally:
        await adapter.stop()
        await runner.cleanup()


async def test_webhook_without_configured_secret_gets_a_generated_one(
    services: Services, fake_telegram: FakeTelegram
) -> None:
    port = free_port()
    settings = telegram_settings(fake_telegram, TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/tg")
    adapter = create_telegram(services, settings, Deliveries())
    web_app = make_web_app()
    adapter.add_routes(web_app)
    runner = await serve(web_app, "127.0.0.1", port)
    await adapter.start()
    try:
        assert fake_telegram.webhook is not None
        secret = fake_telegram.webhook["secret_token"]
        assert len(secret) >= 32
        update = fake_telegram.message_update(ANNA, "/help")
        assert await fake_telegram.post_webhook(update, "") == 403
        assert await fake_telegram.post_webhook(update, secret) == 200
        await fake_telegram.next_call("sendMessage", ANNA, contains="Wat kan ik")
    finally:
        await adapter.stop()
        await runner.cleanup()
