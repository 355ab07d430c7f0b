"""The fake Slack Web API of tests/fakeslack.py in a process of its own, with what the
benchmarks need on top:

- waiters: the driver asks "tell me when a call of method M whose arguments contain these
  strings arrives (after time t)" and gets the fake's `time.monotonic()` of that call back
  (one clock for every process on the machine);
- a per-channel limit for `chat.postMessage` (1 message per second by default when set):
  a post that comes too early is answered 429 with Retry-After, as Slack does;
- a slow channel: posts to it are answered only after a delay;
- the accepted posts with their arrival time, for the fan-out figures.

What a fake records is kept until it is reset, so it is kept out of the garbage collector's
walks (`gc.freeze()` every few hundred calls): a full collection over a long run's history
took 70–280 ms, and it fell on whichever side was being measured at that moment.

Block Kit validation is switched off here (it is the tests' job, and it would make the fake
slower for the side with the richer messages). Run: `python -m bench.fakeapi [slack|telegram]`;
it prints one JSON line with its two ports (the platform API and the control API) and serves
until stopped. `telegram` serves tests/faketelegram.py with Telegram's sending limits.
"""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakeslack import Call, FakeSlack
from tests.faketelegram import FakeTelegram

TOLERANCE = 0.02  # arrival jitter allowed on the per-channel limit (seconds)


@dataclass
class Waiter:
    method: str
    contains: list[str]
    after: float
    future: asyncio.Future[float] = field(repr=False)


class BenchSlack(FakeSlack):
    def __init__(self) -> None:
        super().__init__()
        # per method: (when it was logged, at, arguments as JSON text), in the order logged
        self.index: defaultdict[str, list[tuple[float, float, str]]] = defaultdict(list)
        self.waiters: list[Waiter] = []
        self.per_channel_seconds = 0.0
        self.slow: dict[str, float] = {}
        self.last_post: dict[str, float] = {}
        self.accepted: list[tuple[float, str]] = []
        self.limited = 0
        self.kept = KeptOutOfCollector()

    def reset(self) -> None:
        super().reset()
        self.index.clear()
        self.last_post.clear()
        self.accepted.clear()
        self.limited = 0
        self.per_channel_seconds = 0.0
        self.slow = {}

    # --- no Block Kit validation in the bench ----------------------------------------------
    def _check_blocks(self, where: str, blocks: Any, limit: int) -> None:
        return

    def _check_view(self, where: str, view: Any) -> dict[str, Any]:
        return dict(json.loads(view) if isinstance(view, str) else view)

    # --- limits ----------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method != "chat.postMessage" or not (self.per_channel_seconds or self.slow):
            return await super()._api(request)
        args = await self._args(request)  # aiohttp keeps the body: the fake reads it again
        channel = str(args.get("channel"))
        now = time.monotonic()
        if self.per_channel_seconds:
            last = self.last_post.get(channel)
            if last is not None and now - last < self.per_channel_seconds - TOLERANCE:
                self.limited += 1
                wait = max(1, round(self.per_channel_seconds - (now - last) + 0.49))
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(wait)})
            self.last_post[channel] = now
        self.accepted.append((now, channel))
        if delay := self.slow.get(channel):
            await asyncio.sleep(delay)  # the slow channel itself
        try:
            return await super()._api(request)
        except ConnectionResetError:  # the sender gave up waiting (end of a fan-out window)
            return web.Response(status=499)

    # --- waiters ---------------------------------------------------------------------------
    async def _answered(self, request: web.Request, response: web.Response, call: Call) -> web.Response:
        try:
            return await super()._answered(request, response, call)
        finally:
            self._notify(call)

    def _notify(self, call: Call) -> None:
        text = json.dumps(call.args, ensure_ascii=False, default=str)
        self.index[call.method].append((time.monotonic(), call.at, text))
        self.kept.one_more()
        for waiter in list(self.waiters):
            if _matches(waiter, call.method, call.at, text):
                self.waiters.remove(waiter)
                if not waiter.future.done():
                    waiter.future.set_result(call.at)

    async def wait(self, method: str, contains: list[str], after: float, within: float) -> float:
        # Only what was logged since `after` (a call logged before it also arrived before
        # it), the first match first: a wait costs as much late in a run as early on.
        logged = self.index[method]
        since = len(logged)
        while since > 0 and logged[since - 1][0] >= after:
            since -= 1
        for _logged_at, at, text in logged[since:]:
            if _matches_fields(method, contains, after, method, at, text):
                return at
        waiter = Waiter(method, contains, after, asyncio.get_running_loop().create_future())
        self.waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter.future, within)
        finally:
            if waiter in self.waiters:
                self.waiters.remove(waiter)


FREEZE_EVERY = 256  # calls recorded between two gc.freeze()


class KeptOutOfCollector:
    """Counts recorded calls; every FREEZE_EVERY moves what exists into the permanent
    generation, so the collector's full walks stay as short as at the start."""

    def __init__(self) -> None:
        self.recorded = 0

    def one_more(self) -> None:
        self.recorded += 1
        if self.recorded % FREEZE_EVERY == 0:
            gc.freeze()


def _matches(waiter: Waiter, method: str, at: float, text: str) -> bool:
    return _matches_fields(waiter.method, waiter.contains, waiter.after, method, at, text)


def _matches_fields(want: str, contains: list[str], after: float, method: str, at: float,
                    text: str) -> bool:
    return method == want and at >= after and all(c in text for c in contains)


def control_app(fake: BenchSlack) -> web.Application:
    async def wait(request: web.Request) -> web.Response:
        ask = await request.json()
        try:
            at = await fake.wait(ask["method"], list(ask.get("contains", [])),
                                 float(ask.get("after", 0.0)), float(ask.get("within", 60.0)))
        except TimeoutError:
            return web.json_response({"at": None}, status=504)
        return web.json_response({"at": at})

    async def reset(_request: web.Request) -> web.Response:
        fake.reset()
        return web.json_response({"ok": True})

    async def limits(request: web.Request) -> web.Response:
        ask = await request.json()
        fake.per_channel_seconds = float(ask.get("per_channel_seconds", 0.0))
        fake.slow = {str(k): float(v) for k, v in (ask.get("slow") or {}).items()}
        return web.json_response({"ok": True})

    async def stats(_request: web.Request) -> web.Response:
        counts = {method: len(logged) for method, logged in fake.index.items() if logged}
        return web.json_response({"accepted": fake.accepted, "limited": fake.limited,
                                  "calls": counts})

    app = web.Application()
    app.router.add_post("/wait", wait)
    app.router.add_post("/reset", reset)
    app.router.add_post("/limits", limits)
    app.router.add_get("/stats", stats)
    return app


class BenchTelegram(FakeTelegram):
    """The fake Telegram Bot API of tests/faketelegram.py with Telegram's limits on sending:
    20 messages per minute per group and 30 per second overall, answered with 429 and
    `retry_after` beyond them (when switched on)."""

    def __init__(self) -> None:
        super().__init__()
        self.limited_on = False
        self.per_chat_seconds = 3.0  # 20 per minute
        self.per_second = 30
        self.last_send: dict[int, float] = {}
        self.recent: list[float] = []
        self.accepted: list[tuple[float, str]] = []
        self.limited = 0
        self.kept = KeptOutOfCollector()

    def reset(self) -> None:
        self.last_send.clear()
        self.recent.clear()
        self.accepted.clear()
        self.limited = 0
        self.limited_on = False

    async def _answer(self, method: str, params: dict[str, Any], call: Any) -> web.Response:
        self.kept.one_more()
        if method != "sendMessage" or not self.limited_on:
            return await super()._answer(method, params, call)
        now = time.monotonic()
        chat = int(params.get("chat_id") or 0)
        self.recent = [t for t in self.recent if now - t < 1.0]
        last = self.last_send.get(chat)
        wait = 0.0
        if last is not None and now - last < self.per_chat_seconds - TOLERANCE:
            wait = self.per_chat_seconds - (now - last)
        elif len(self.recent) >= self.per_second:
            wait = 1.0 - (now - self.recent[0])
        if wait > 0:
            self.limited += 1
            retry_after = max(1, round(wait + 0.49))
            return web.json_response(
                {"ok": False, "error_code": 429,
                 "description": f"Too Many Requests: retry after {retry_after}",
                 "parameters": {"retry_after": retry_after}}, status=429)
        self.last_send[chat] = now
        self.recent.append(now)
        self.accepted.append((now, str(chat)))
        return await super()._answer(method, params, call)


def telegram_control_app(fake: BenchTelegram) -> web.Application:
    async def reset(_request: web.Request) -> web.Response:
        fake.reset()
        return web.json_response({"ok": True})

    async def limits(request: web.Request) -> web.Response:
        ask = await request.json()
        fake.limited_on = bool(ask.get("on", True))
        return web.json_response({"ok": True})

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response({"accepted": fake.accepted, "limited": fake.limited})

    app = web.Application()
    app.router.add_post("/reset", reset)
    app.router.add_post("/limits", limits)
    app.router.add_get("/stats", stats)
    return app


async def _serve(platform: str) -> None:
    if platform == "telegram":
        telegram = BenchTelegram()
        url = await telegram.start()
        api, app, close = int(url.rsplit(":", 1)[1]), telegram_control_app(telegram), telegram.stop
    else:
        slack = BenchSlack()
        await slack.start()
        api, app, close = slack.port, control_app(slack), slack.close
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    control = int(runner.addresses[0][1])
    print(json.dumps({"api": api, "control": control}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()
    await close()


def main() -> None:
    asyncio.run(_serve(sys.argv[1] if len(sys.argv) > 1 else "slack"))
    sys.exit(0)


if __name__ == "__main__":
    main()


class FakeProcess:
    """The driver's handle on a fake started with `python -m bench.fakeapi`."""

    def __init__(self, platform: str = "slack") -> None:
        import subprocess

        from bench.common import PYTHON, ROOT

        self.process = subprocess.Popen([PYTHON, "-m", "bench.fakeapi", platform], cwd=ROOT,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        ports = json.loads(self.process.stdout.readline())
        self.api_url = f"http://127.0.0.1:{ports['api']}/api/"
        self.base_url = f"http://127.0.0.1:{ports['api']}"
        self.control = f"http://127.0.0.1:{ports['control']}"
        self.session: Any = None

    async def __aenter__(self) -> FakeProcess:
        import aiohttp

        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.session.close()

    async def wait(self, method: str, contains: list[str], after: float,
                   within: float = 60.0) -> float | None:
        """The fake's time of the first matching call after `after`; None when it did not
        come within `within` seconds."""
        ask = {"method": method, "contains": contains, "after": after, "within": within}
        async with self.session.post(f"{self.control}/wait", json=ask) as response:
            at = (await response.json())["at"]
            return None if at is None else float(at)

    async def post(self, path: str, body: dict[str, Any]) -> None:
        async with self.session.post(f"{self.control}{path}", json=body) as response:
            await response.read()

    async def stats(self) -> dict[str, Any]:
        async with self.session.get(f"{self.control}/stats") as response:
            data: dict[str, Any] = await response.json()
            return data

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
