"""The floor: a bare slack-bolt AsyncApp on aiohttp, in a process of its own.

It does what Slack needs and nothing more: `/melding` → ack, then `views.open` with a modal
read from a file at start (the same modal regiebot opens); a button → ack, an ephemeral
answer on the response_url, then `chat.update` of a tally kept in memory (who voted, by
Slack user id, as regiebot's tally names its voters). `/healthz` answers 200 once it
serves. Its Web API client keeps its connections open, as regiebot's does (slack_sdk's default
opens a new one for every call), so the two differ in what they do, not in how they connect.
Run: `python -m bench.bare --port P --api http://127.0.0.1:N/api/ [--view FILE]`.

With `--store URL` (the bench's SQLite or PostgreSQL database) a button is the least a
durable vote needs: one transaction through the same SQLAlchemy async stack as regiebot
(insert the vote, read the voters back, commit), acknowledged once it is stored, and the tally
made from what was read. That is the floor of "a click Slack shows as taken is stored".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # as tests/fakeslack.py
BOT_TOKEN = "xoxb-test-token"
MINIMAL_VIEW = {"type": "modal", "callback_id": "melding",
                "title": {"type": "plain_text", "text": "Melding"}, "blocks": []}


class Stored:
    """The votes in a table of their own (`bare_votes`), one short transaction per click."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import Column, MetaData, String, Table

        from store.db import make_engine  # regiebot's own engine: the same driver and pragmas

        self.engine = make_engine(url)
        self.table = Table("bare_votes", MetaData(), Column("ts", String, primary_key=True),
                           Column("member", String, primary_key=True))

    async def create(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(self.table.metadata.create_all)

    async def vote(self, ts: str, member: str) -> list[str]:
        from sqlalchemy import select
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        async with self.engine.begin() as conn:
            await conn.execute(insert(self.table).values(ts=ts, member=member)
                               .on_conflict_do_nothing())
            found = await conn.scalars(select(self.table.c.member)
                                       .where(self.table.c.ts == ts))
            return list(found)


def bare_app(api_url: str, view: dict[str, Any], stored: Stored | None = None) -> AsyncApp:
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    app = AsyncApp(client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url, session=session),
                   signing_secret=SIGNING_SECRET)
    tallies: dict[str, list[str]] = {}

    @app.command("/melding")
    async def melding(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(re.compile(".*"))
    async def clicked(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond,
                      client: AsyncWebClient) -> None:
        channel = body["container"]["channel_id"]
        ts = body["container"]["message_ts"]
        if stored is not None:
            voters = await stored.vote(ts, body["user"]["id"])
        else:
            voters = tallies.setdefault(ts, [])
            voters.append(body["user"]["id"])
        await ack()
        await respond(text="Je stem is ontvangen.", response_type="ephemeral",
                      replace_original=False)
        reference = str(body["actions"][0].get("value", "")).split("|")[0]
        text = f"Stemmen {reference}: {', '.join(voters)}"
        await client.chat_update(channel=channel, ts=ts, text=text, blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": text}}])

    return app


async def _serve(port: int, api_url: str, view: dict[str, Any], store: str | None) -> None:
    stored = Stored(store) if store else None
    if stored is not None:
        await stored.create()
    app = bare_app(api_url, view, stored)

    async def handle(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    web_app = web.Application()
    web_app.router.add_post("/slack/events", handle)
    web_app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--view")
    parser.add_argument("--store")
    args = parser.parse_args()
    view = MINIMAL_VIEW
    if args.view:
        with open(args.view, encoding="utf-8") as handle:
            view = json.load(handle)
    asyncio.run(_serve(args.port, args.api, view, args.store))


if __name__ == "__main__":
    main()
