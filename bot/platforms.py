"""`regiebot run` with platforms: Slack and/or Telegram, the scheduler and the HTTP server in
one process, stopped cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from bot.delivery import Deliveries
from bot.http import make_web_app, serve
from bot.runtime import build_services, close_services
from bot.settings import Settings

log = logging.getLogger(__name__)


async def run_platforms(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Start what is configured and run until `stop` is set or a signal arrives."""
    stop = stop or _stop_on_signals()
    services = await build_services(settings)
    deliveries = Deliveries()
    web_app = make_web_app()
    stoppers: list[Any] = []
    try:
        if settings.slack_bot_token:
            from bot.slack.adapter import create_slack

            slack = create_slack(services, settings, deliveries)
            if settings.slack_app_token:
                await slack.start_socket_mode()
            else:
                slack.add_routes(web_app)
            stoppers.append(slack.stop)
        if settings.telegram_bot_token:
            from bot.telegram.adapter import create_telegram

            telegram = create_telegram(services, settings, deliveries)
            if settings.telegram_webhook_url:
                telegram.add_routes(web_app)
            await telegram.start()
            stoppers.append(telegram.stop)
        from bot.scheduler import start_scheduler

        scheduler = await start_scheduler(services, deliveries, settings)
        stoppers.append(scheduler.stop)
        runner = await serve(web_app, settings.http_host, settings.http_port)
        stoppers.append(runner.cleanup)
        log.info("regiebot draait op %s:%s", settings.http_host, settings.http_port)
        await stop.wait()
    finally:
        for stopper in reversed(stoppers):
            with contextlib.suppress(Exception):
                await stopper()
        await close_services(services)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if sys.platform != "win32":  # the event loop has no signal handlers on Windows
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    return stop
