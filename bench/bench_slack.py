"""Slack over HTTP: latency of /melding (ack + views.open) and of a vote click, with 50
concurrent users, against the local fake Slack Web API; next to a bare slack-bolt AsyncApp
doing the same views.open against the same fake server.

Run: `make bench` (all benchmarks) or `.venv/bin/python -m bench slack`.
Environment: BENCH_SLACK_ROUNDS (default 10) rounds of 50 concurrent requests each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

USERS = 50


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _summary(values: list[float]) -> tuple[float, float]:
    return statistics.median(values) * 1000, _percentile(values, 99) * 1000


class Driver:
    """Sends signed Slack requests and measures until the fake server sees the follow-up."""

    def __init__(self, fake: Any, url: str) -> None:
        self.fake = fake
        self.url = url
        self.seq = 0

    def next_id(self) -> int:
        self.seq += 1
        return self.seq

    async def send(self, session: aiohttp.ClientSession, body: str) -> None:
        from tests.fakeslack import sign

        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
        async with session.post(self.url, data=body.encode(), headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")

    async def until(self, check: Callable[[], bool], within: float = 30.0) -> float:
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError("het vervolg kwam niet aan")
            await asyncio.sleep(0.001)
        return time.monotonic()

    def _seen(self, method: str, key: str, value: str) -> Callable[[], bool]:
        def check() -> bool:
            return any(c.args.get(key) == value for c in reversed(self.fake.calls[-400:])
                       if c.method == method)
        return check

    async def melding(self, session: aiohttp.ClientSession, user: str) -> tuple[float, float]:
        n = self.next_id()
        trigger = f"{n}.1234.bench"
        body = urlencode({
            "token": "x", "team_id": "T0REGIE", "team_domain": "regie", "channel_id": "D0DM",
            "channel_name": "directmessage", "user_id": user, "user_name": user.lower(),
            "command": "/melding", "text": "", "api_app_id": "A0REGIE",
            "is_enterprise_install": "false", "response_url": self.fake.response_url(f"b{n}"),
            "trigger_id": trigger,
        })
        start = time.monotonic()
        await self.send(session, body)
        acked = time.monotonic()
        opened = await self.until(self._seen("views.open", "trigger_id", trigger))
        return acked - start, opened - start

    async def click(self, session: aiohttp.ClientSession, user: str,
                    button: dict[str, Any]) -> tuple[float, float]:
        n = self.next_id()
        response_url = self.fake.response_url(f"v{n}")
        payload = {
            "type": "block_actions", "user": {"id": user, "username": user, "team_id": "T0REGIE"},
            "api_app_id": "A0REGIE", "token": "x", "trigger_id": f"{n}.5678.bench",
            "container": {"type": "message", "message_ts": "1.1", "channel_id": "C0REGIE"},
            "team": {"id": "T0REGIE", "domain": "regie"}, "channel": {"id": "C0REGIE"},
            "message": {"type": "message", "ts": "1.1", "text": "…"}, "state": {"values": {}},
            "response_url": response_url,
            "actions": [{**button, "block_id": "b", "type": "button",
                         "action_ts": f"{time.time():.6f}{n}"}],
        }
        body = urlencode({"payload": json.dumps(payload)})
        start = time.monotonic()
        await self.send(session, body)
        acked = time.monotonic()
        answered = await self.until(self._seen_response(response_url))
        return acked - start, answered - start

    def _seen_response(self, url: str) -> Callable[[], bool]:
        name = url.rsplit("/", 1)[1]

        def check() -> bool:
            return name in self.fake.answered

        return check


async def _rounds(rounds: int, users: list[str],
                  one: Callable[[aiohttp.ClientSession, str, int], Awaitable[tuple[float, float]]],
                  ) -> tuple[list[float], list[float]]:
    acks: list[float] = []
    done: list[float] = []
    connector = aiohttp.TCPConnector(limit=USERS * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        for r in range(rounds):
            results = await asyncio.gather(*(one(session, u, r) for u in users))
            acks += [a for a, _ in results]
            done += [d for _, d in results]
    return acks, done


def _organisation(base: Any) -> Any:
    """The example organisation plus 50 melders and 50 members of Regieteam Oost."""
    from commands.organisation import Member

    extra = [Member(id=f"melder{i}", name=f"Melder {i}", partner="talis", roles=("melder",),
                    slack_user=f"U0M{i:03d}") for i in range(USERS)]
    extra += [Member(id=f"lid{i}", name=f"Lid {i}", partner="buurtteam", roles=("lid",),
                     regieteams=("oost",), slack_user=f"U0L{i:03d}") for i in range(USERS)]
    return base.model_copy(update={"members": (*base.members, *extra)})


async def _regiebot(fake: Any, url: str, rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    from datetime import UTC, datetime

    from cryptography.fernet import Fernet

    from bot.delivery import Deliveries
    from bot.http import bound_port, make_web_app, serve
    from bot.settings import Settings
    from bot.slack import create_slack
    from commands.agenda import post_agenda
    from commands.context import Services
    from commands.organisation import load_organisation
    from commands.orgsync import sync_organisation
    from store.crypto import PersonalDataCipher
    from store.db import make_engine, make_sessionmaker
    from tests.fakeslack import BOT_TOKEN, SIGNING_SECRET, button_named
    from tests.helpers import file

    org = _organisation(load_organisation(Path("deploy/regieteam.example.yaml")))
    engine = make_engine(url)
    moment = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    services = Services(sessions=make_sessionmaker(engine), org=org,
                        cipher=PersonalDataCipher(Fernet.generate_key().decode()),
                        clock=lambda: moment)
    async with services.transaction() as session:
        await sync_organisation(session, org)
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN,
                        SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake.api_url,
                        REGIEBOT_SECRET_KEY="x")
    adapter = create_slack(services, settings, Deliveries())
    web_app = make_web_app()
    adapter.add_routes(web_app)
    runner = await serve(web_app, "127.0.0.1", 0)
    driver = Driver(fake, f"http://127.0.0.1:{bound_port(runner)}/slack/events")
    try:
        melders = [f"U0M{i:03d}" for i in range(USERS)]
        melding = await _rounds(rounds, melders, lambda s, u, _r: driver.melding(s, u))
        await file(services)
        chair = org.member("carla")
        result = await post_agenda(services, chair)
        opener = next(o for o in result.outgoing if o.update_key and o.update_key.startswith("case_"))
        from messages.slack import slack_message

        blocks = slack_message(opener.message).blocks
        buttons = {c: button_named(blocks, "stem", f"RT-2026-0001|q1|{c}") for c in ("ja", "nee")}
        voters = [f"U0L{i:03d}" for i in range(USERS)]
        vote = await _rounds(rounds, voters, lambda s, u, r: driver.click(
            s, u, buttons["ja" if r % 2 == 0 else "nee"]))
    finally:
        await runner.cleanup()
        await engine.dispose()
    return {"melding": melding, "stem": vote}


async def _bare(fake: Any, rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    """A bare slack-bolt AsyncApp: ack, then views.open with the same modal; ack + respond for
    a button."""
    from bot.slack.forms import melding_modal
    from commands.organisation import load_organisation
    from tests.fakeslack import BOT_TOKEN, SIGNING_SECRET

    org = load_organisation(Path("deploy/regieteam.example.yaml"))
    anna = org.member("anna")
    assert anna is not None
    view = melding_modal(org, anna)
    app = AsyncApp(client=AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url),
                   signing_secret=SIGNING_SECRET)

    @app.command("/melding")
    async def melding(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(re.compile(".*"))
    async def clicked(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond(text="Je stem is ontvangen.", response_type="ephemeral")

    async def handle(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", handle)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    driver = Driver(fake, f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events")
    users = [f"U0B{i:03d}" for i in range(USERS)]
    button = {"action_id": "regie|stem|0", "value": "x",
              "text": {"type": "plain_text", "text": "ja"}}
    try:
        melding_times = await _rounds(rounds, users, lambda s, u, _r: driver.melding(s, u))
        vote_times = await _rounds(rounds, users, lambda s, u, _r: driver.click(s, u, button))
    finally:
        await runner.cleanup()
    return {"melding": melding_times, "stem": vote_times}


def _report(results: dict[str, dict[str, tuple[list[float], list[float]]]],
            bare: dict[str, tuple[list[float], list[float]]]) -> None:
    print(f"{'meting':<40}{'regiebot med/p99 ms':>22}{'kale bolt med/p99 ms':>24}{'verhouding':>12}")
    rows = [("/melding: ack", "melding", 0), ("/melding: ack + views.open", "melding", 1),
            ("stemknop: ack", "stem", 0), ("stemknop: ack + antwoord", "stem", 1)]
    for kind, ours in results.items():
        for title, key, part in rows:
            mine, base = _summary(ours[key][part]), _summary(bare[key][part])
            ratio = mine[0] / base[0] if base[0] else float("nan")
            label = f"{title} ({kind})"
            print(f"{label:<40}{mine[0]:>11.1f} /{mine[1]:>8.1f}{base[0]:>13.1f} /{base[1]:>8.1f}"
                  f"{ratio:>11.2f}x")
    print(f"({USERS} gelijktijdige gebruikers, {len(bare['melding'][0])} metingen per regel. "
          "Kale bolt: ack + dezelfde views.open, of ack + respond. Regiebot bij de stemknop: "
          "dubbelklik-controle, stem opslaan met historie en herinneringen, dan het antwoord.)")


async def _run(urls: dict[str, str], rounds: int) -> None:
    from tests.fakeslack import FakeSlack

    fake = FakeSlack().start_in_thread()
    try:
        results = {}
        for kind, url in urls.items():
            results[kind] = await _regiebot(fake, url, rounds)
            fake.reset()
        bare = await _bare(fake, rounds)
        _report(results, bare)
        if fake.problems:
            print("Ongeldige Block Kit-payloads:", fake.problems[:5])
    finally:
        fake.stop_thread()


def main() -> None:
    from bench.common import available_kinds, database

    rounds = int(os.environ.get("BENCH_SLACK_ROUNDS", "10"))
    kinds = available_kinds()
    with contextlib.ExitStack() as stack:
        urls = {kind: stack.enter_context(database(kind)) for kind in kinds}
        asyncio.run(_run(urls, rounds))


if __name__ == "__main__":
    main()
