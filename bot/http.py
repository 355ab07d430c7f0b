"""The bot's one HTTP server (aiohttp): Slack's request URL, the Telegram webhook, a health check.

Adapters add their routes to the application before it starts.
"""

from __future__ import annotations

from aiohttp import web


async def _health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def make_web_app() -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_get("/healthz", _health)
    return app


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving; `await runner.cleanup()` stops it. Port 0 picks a free port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port the server listens on (useful with port 0)."""
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("server luistert niet")
