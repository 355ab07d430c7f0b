"""The bot's one HTTP server (aiohttp): Slack's request URL, the Telegram webhook, `/healthz`
and `/metrics`.

Adapters add their routes to the application before it starts. `/healthz` answers 200 when
the database, the scheduler and every platform connection are fine and 503 when one is not;
`/metrics` is in the Prometheus text format. Both are for the operator's network only: the
TLS proxy in deploy/Caddyfile passes only the platform paths.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.ops import Operations

OPERATIONS: web.AppKey[Operations] = web.AppKey("operations", Operations)
SHUTDOWN_SECONDS = 3.0  # requests still open at a stop get this long to finish


async def _health(request: web.Request) -> web.Response:
    ops = request.app.get(OPERATIONS)
    if ops is None:  # an app without the bot's services (adapter tests)
        return web.json_response({"status": "ok", "checks": {}})
    healthy, report = await ops.health()
    return web.json_response(report, status=200 if healthy else 503)


async def _metrics(request: web.Request) -> web.Response:
    ops = request.app[OPERATIONS]
    await ops.refresh_reminder_figures()
    if ops.scheduler is not None:
        await ops.health()  # the check gauges (database, scheduler, platforms) up to date
    body = generate_latest(ops.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def make_web_app(ops: Operations | None = None) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_get("/healthz", _health)
    if ops is not None:
        app[OPERATIONS] = ops
        app.router.add_get("/metrics", _metrics)
    return app


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving; `await runner.cleanup()` stops it. Port 0 picks a free port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port the server listens on (useful with port 0)."""
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("server luistert niet")
