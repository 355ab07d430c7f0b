"""`regiebot run` with platforms: Slack and/or Telegram, the scheduler and the HTTP server in
one process, stopped cleanly on SIGINT/SIGTERM.

A stop (SIGTERM from `docker stop` or systemd) finishes within a few seconds: a reminder batch
in flight gets STOP_DRAIN_SECONDS, then its unfinished claims are given back, so another
replica (or the next start) sends those reminders at once.

Two replicas on one PostgreSQL database: the scheduler leader runs the jobs; Telegram long
polling runs only in the leader (Telegram allows one poller per bot); webhook mode needs a
fixed TELEGRAM_WEBHOOK_SECRET shared by all replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bot.delivery import Deliveries
from bot.http import make_web_app, serve
from bot.ops import Operations
from bot.runtime import build_services, close_services
from bot.settings import Settings, SettingsError
from store.db import is_sqlite

if TYPE_CHECKING:
    from bot.scheduler import BotScheduler
    from bot.slack.adapter import SlackAdapter
    from bot.telegram.adapter import TelegramAdapter
    from commands.organisation import Organisation

log = logging.getLogger(__name__)

STOP_DRAIN_SECONDS = 3.0
POLLING_CHECK_SECONDS = 5.0  # how often a replica checks whether it should poll Telegram


async def run_platforms(settings: Settings, stop: asyncio.Event | None = None, *,
                        org: Organisation | None = None) -> None:
    """Start what is configured and run until `stop` is set or a signal arrives. `org`: the
    organisation already loaded (else it is read from `settings.config`)."""
    stop = stop or _stop_on_signals()
    require_shared_webhook_secret(settings)
    services = await build_services(settings, org, runs_scheduler=True)
    deliveries = Deliveries()
    ops = Operations(services)
    web_app = make_web_app(ops)
    stoppers: list[Callable[[], Awaitable[Any]]] = []
    try:
        telegram = None
        if settings.slack_bot_token:
            from bot.slack.adapter import create_slack

            slack = create_slack(services, settings, deliveries)
            stoppers.append(slack.stop)  # also when what follows refuses to start
            time_slack_requests(slack, ops)
            if settings.slack_app_token:
                await slack.start_socket_mode()
            else:
                slack.add_routes(web_app)
            ops.platforms["slack"] = slack_probe(slack)
        if settings.telegram_bot_token:
            from bot.telegram.adapter import create_telegram

            telegram = create_telegram(services, settings, deliveries)
            time_telegram_updates(telegram, ops)
            if settings.telegram_webhook_url:
                telegram.add_routes(web_app)
            # Long polling with PostgreSQL: only the scheduler leader polls (see below).
            await telegram.start(poll=not polls_only_as_leader(settings))
            ops.platforms["telegram"] = telegram_probe(telegram)
            stoppers.append(telegram.stop)
        if settings.teams_app_id:
            from bot.teams import create_teams

            teams = create_teams(services, settings, deliveries)
            teams.add_routes(web_app)
            ops.platforms["teams"] = teams.probe
            stoppers.append(teams.stop)
        deliveries.couriers[:] = [ops.counted(courier) for courier in deliveries.couriers]
        from bot.scheduler import start_scheduler

        scheduler = await start_scheduler(services, deliveries, settings,
                                          drain_seconds=STOP_DRAIN_SECONDS)
        ops.scheduler = scheduler
        stoppers.append(scheduler.stop)
        if telegram is not None and polls_only_as_leader(settings):
            stoppers.append(await poll_telegram_as_leader(telegram, scheduler))
        runner = await serve(web_app, settings.http_host, settings.http_port)
        stoppers.append(runner.cleanup)
        # What start-up built (modules, models, templates, the organisation) lives as long as
        # the process: kept out of the garbage collector's walks, a full collection during a
        # request stays short. `regiebot run` paused the collector during start-up (bot.cli).
        gc.freeze()
        gc.enable()
        log.info("regiebot draait op %s:%s", settings.http_host, settings.http_port)
        await stop.wait()
    finally:
        for stopper in reversed(stoppers):
            with contextlib.suppress(Exception):
                await stopper()
        await close_services(services)


def require_shared_webhook_secret(settings: Settings) -> None:
    """Webhook mode with a secret each process invents would make the other replicas answer
    403: the secret must be set, the same for all."""
    if settings.telegram_bot_token and settings.telegram_webhook_url \
            and not settings.telegram_webhook_secret:
        from messages.render import renderer

        raise SettingsError(renderer("plain").text("cli/webhook_zonder_geheim"))


def polls_only_as_leader(settings: Settings) -> bool:
    """Telegram allows one long-polling client per bot: with PostgreSQL (possibly several
    replicas) only the scheduler leader polls. SQLite is one process; webhooks go to all."""
    return bool(settings.telegram_bot_token and not settings.telegram_webhook_url
                and not is_sqlite(settings.database_url))


async def poll_telegram_as_leader(
    telegram: TelegramAdapter, scheduler: BotScheduler
) -> Callable[[], Awaitable[None]]:
    """Poll now when leader; follow the leadership afterwards. Returns the stopper."""
    await _follow_leadership(telegram, scheduler)
    task = asyncio.create_task(_poll_while_leader(telegram, scheduler),
                               name="telegram-polling-leader")

    async def stop_following() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop_following


async def _follow_leadership(telegram: TelegramAdapter, scheduler: BotScheduler) -> None:
    if scheduler.is_leader and not telegram.polling:
        log.info("Telegram: deze instantie is leider en haalt berichten op")
        await telegram.start_polling()
    elif not scheduler.is_leader and telegram.polling:
        log.info("Telegram: geen leider meer; berichten ophalen gestopt")
        await telegram.stop_polling()


async def _poll_while_leader(telegram: TelegramAdapter, scheduler: BotScheduler) -> None:
    while True:
        await asyncio.sleep(POLLING_CHECK_SECONDS)  # a period, not a wait for something
        try:
            await _follow_leadership(telegram, scheduler)
        except Exception:
            log.exception("Telegram: wisselen van ophalen mislukt")


def time_slack_requests(slack: SlackAdapter, ops: Operations) -> None:
    """Time until Slack gets its answer (the 3-second limit), per slash command or kind."""

    async def timed(body: dict[str, Any], next: Callable[[], Awaitable[Any]]) -> Any:
        kind = body.get("command") or body.get("type") or "onbekend"
        with ops.time_command("slack", str(kind)[:40]):
            return await next()

    slack.app.use(timed)


def time_telegram_updates(telegram: TelegramAdapter, ops: Operations) -> None:
    """Processing time of every Telegram update, per kind (command, message, button)."""
    application = telegram.application
    process = application.process_update

    async def timed(update: object) -> None:
        with ops.time_command("telegram", _telegram_kind(update)):
            await process(update)

    setattr(application, "process_update", timed)  # noqa: B010  (instance hook, no subclass)


def _telegram_kind(update: object) -> str:
    message = getattr(update, "message", None)
    if getattr(update, "callback_query", None) is not None:
        return "knop"
    if message is not None and str(getattr(message, "text", "") or "").startswith("/"):
        return "commando"
    return "bericht" if message is not None else "overig"


def slack_probe(slack: SlackAdapter) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def probe() -> dict[str, Any]:
        if not slack.uses_socket_mode:
            return {"ok": True, "mode": "http"}
        return {"ok": await slack.is_connected(), "mode": "socket"}

    return probe


def telegram_probe(telegram: TelegramAdapter) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def probe() -> dict[str, Any]:
        running = telegram.application.running
        if telegram.webhook_url:
            return {"ok": running, "mode": "webhook"}
        return {"ok": running, "mode": "polling", "polling": telegram.polling}

    return probe


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if sys.platform != "win32":  # the event loop has no signal handlers on Windows
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    return stop
