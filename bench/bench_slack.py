"""Slack over HTTP: `/melding` → `views.open`, and a vote click → `chat.update` of the tally,
regiebot (`regiebot run`, its own process) against a bare slack-bolt AsyncApp (its own
process), both talking to the same fake Slack Web API (a third process).

Every request is a real signed Slack request. A latency runs from just before the request is
sent to the moment the fake Web API receives the call it leads to (`views.open` with that
trigger_id; the first `chat.update` whose tally holds that voter). Repetitions are
interleaved (regiebot, bare, regiebot, bare, ...), at 1, 10 and 50 users at once; for each
figure the p50 and p99 of both sides, their ratio, and the spread of the per-repetition
ratio of the p50s.

Votes: each (repetition, user count) gets its own case on the agenda, whose tally message is
already in the channel (its reference is in the database), so every measured vote ends in a
`chat.update`. Votes are also measured against the bare app that stores each vote first (one
transaction in the same database, through the same engine, before the ack: the floor of a
durable vote, `bench.bare --store`), interleaved with the other two. Environment:
BENCH_SLACK_REPS (repetitions), BENCH_DBS.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from bench.common import (
    VOTERS,
    Server,
    available_kinds,
    database,
    figure,
    melder_user,
    percentile,
    ratio,
    sized,
    spread,
    start_bare,
    start_regiebot,
    voter_user,
    wait_healthy,
    write_organisation,
)
from bench.fakeapi import FakeProcess

# users at once, batches per repetition (25 at 1 user: its p99 is not the maximum of a few)
PLAN = ((1, 25), (10, 2), (50, 1))
GOAL = 1.2
WARM_UP = (-1, 1)  # the unmeasured first requests (auth.test, first connections)


@dataclass
class Side:
    name: str
    server: Server
    references: dict[tuple[int, int], str]  # (repetition, users) → case reference
    message_ts: dict[tuple[int, int], str] = field(default_factory=dict)


class Driver:
    """Sends signed Slack requests and asks the fake when the follow-up arrived."""

    def __init__(self, fake: FakeProcess, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session
        self.seq = 0
        self.failures: defaultdict[str, int] = defaultdict(int)

    def next(self) -> int:
        self.seq += 1
        return self.seq

    async def send(self, url: str, body: str) -> bool:
        from tests.fakeslack import sign

        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
        async with self.session.post(f"{url}/slack/events", data=body.encode(),
                                     headers=headers) as response:
            await response.read()
            return response.status == 200

    async def melding(self, side: Side, user: str) -> float | None:
        n = self.next()
        trigger = f"{n:07d}.{side.name}.bench"
        body = urlencode({
            "token": "x", "team_id": "T0REGIE", "team_domain": "regie", "channel_id": "D0DM",
            "channel_name": "directmessage", "user_id": user, "user_name": user.lower(),
            "command": "/melding", "text": "", "api_app_id": "A0REGIE",
            "is_enterprise_install": "false",
            "response_url": self.fake.api_url.replace("/api/", f"/response/m{n}"),
            "trigger_id": trigger,
        })
        start = time.monotonic()
        if not await self.send(side.server.url, body):
            self.failures[f"{side.name} melding"] += 1
            return None
        at = await self.fake.wait("views.open", [trigger], start)
        if at is None:
            self.failures[f"{side.name} melding"] += 1
            return None
        return at - start

    async def vote(self, side: Side, key: tuple[int, int], user: str) -> float | None:
        n = self.next()
        reference = side.references[key]
        ts = side.message_ts.setdefault(key, f"1790000000.{800000 + n:06d}")
        payload: dict[str, object] = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0REGIE"},
            "api_app_id": "A0REGIE", "token": "x", "trigger_id": f"{n:07d}.5678.bench",
            "container": {"type": "message", "message_ts": ts, "channel_id": "C0REGIE",
                          "is_ephemeral": False},
            "team": {"id": "T0REGIE", "domain": "regie"}, "enterprise": None,
            "is_enterprise_install": False, "channel": {"id": "C0REGIE", "name": "regieteam"},
            "message": {"type": "message", "ts": ts, "user": "UBOT", "text": "…"},
            "state": {"values": {}},
            "response_url": self.fake.api_url.replace("/api/", f"/response/v{n}"),
            "actions": [{"action_id": "regie|stem|0", "block_id": "b1", "type": "button",
                         "text": {"type": "plain_text", "text": "Ja"},
                         "value": f"{reference}|q1|ja", "action_ts": f"1790000000.{n:06d}"}],
        }
        start = time.monotonic()
        if not await self.send(side.server.url, urlencode({"payload": json.dumps(payload)})):
            self.failures[f"{side.name} stem"] += 1
            return None
        at = await self.fake.wait("chat.update", [reference, user], start)
        if at is None:
            self.failures[f"{side.name} stem"] += 1
            return None
        return at - start


async def _batches(users: int, batches: int,
                   one: Callable[[int], Awaitable[float | None]]) -> list[float]:
    """`batches` times `users` requests at once (user i of a batch is number b*users+i)."""
    times: list[float] = []
    for b in range(batches):
        found = await asyncio.gather(*(one(b * users + i) for i in range(users)))
        times += [t for t in found if t is not None]
    return times


def _prepare(url: str, config: Path, folder: Path, reps: int) -> dict[tuple[int, int], str]:
    """File one case per (repetition, user count), put them on Oost's agenda and record
    their tally messages as posted; write the melding modal for the bare app."""
    return asyncio.run(_prepare_async(url, config, folder, reps))


async def _prepare_async(url: str, config: Path, folder: Path,
                         reps: int) -> dict[tuple[int, int], str]:
    from sqlalchemy import insert, select, update

    from bench.common import BENCH_KEY
    from bot.runtime import build_services, close_services
    from bot.settings import Settings
    from bot.slack.forms import melding_modal
    from commands.agenda import post_agenda
    from store.models import AgendaItem, Case, OutboxMessage, Reminder, ThreadRef
    from tests.helpers import file

    settings = Settings(_env_file=None, REGIEBOT_DATABASE_URL=url, REGIEBOT_CONFIG=str(config),
                        REGIEBOT_SECRET_KEY=BENCH_KEY)
    services = await build_services(settings)
    try:
        melder = services.org.member("melder000")
        assert melder is not None
        (folder / "view.json").write_text(json.dumps(melding_modal(services.org, melder)))
        keys = [WARM_UP, *((r, users) for r in range(reps) for users, _ in PLAN)]
        references: dict[tuple[int, int], str] = {}
        for key in keys:
            result = await file(services, "anna")
            references[key] = str(result.value) if isinstance(result.value, str) else ""
        chair = services.org.member("carla")
        assert chair is not None
        await post_agenda(services, chair, "oost")
        async with services.transaction() as session:
            rows = (await session.execute(select(Case.reference, Case.id, AgendaItem.id).join(
                AgendaItem, AgendaItem.case_id == Case.id))).all()
            by_reference = {ref: (case_id, item_id) for ref, case_id, item_id in rows}
            if not all(references.values()):  # the reference is not the result's value
                ordered = sorted(by_reference)
                references = dict(zip(keys, ordered, strict=False))
            refs = []
            for n, key in enumerate(keys):
                case_id, item_id = by_reference[references[key]]
                ts = f"1790000000.{900000 + n:06d}"
                refs += [{"platform": "slack", "purpose": "case_thread", "object_id": case_id,
                          "channel": "C0REGIE", "message_ref": ts, "thread_ref": None},
                         {"platform": "slack", "purpose": "tally", "object_id": item_id,
                          "channel": "C0REGIE", "message_ref": ts, "thread_ref": None}]
            await session.execute(insert(ThreadRef), refs)
            # What the agenda queued and the reminders already due count as sent, as the
            # tallies above count as posted: the measured bot starts with nothing to send,
            # like one that sent them earlier. Otherwise its dispatcher sends them while the
            # requests are timed (an urgent reminder per filed case, to one member, at 1
            # message per second: 25 s of sending beside the measurement).
            now = services.now()
            await session.execute(update(OutboxMessage).where(
                OutboxMessage.sent_at.is_(None), OutboxMessage.cancelled_at.is_(None),
                OutboxMessage.failed_at.is_(None)).values(sent_at=now))
            await session.execute(update(Reminder).where(
                Reminder.sent_at.is_(None), Reminder.due_at <= now,
                Reminder.cancelled_at.is_(None), Reminder.failed_at.is_(None)).values(sent_at=now))
        return references
    finally:
        await close_services(services)


def _melding_of(driver: Driver, side: Side) -> Callable[[int], Awaitable[float | None]]:
    return lambda i: driver.melding(side, melder_user(i % 50))


def _vote_of(driver: Driver, side: Side,
             key: tuple[int, int]) -> Callable[[int], Awaitable[float | None]]:
    return lambda i: driver.vote(side, key, voter_user(i % VOTERS))


Samples = defaultdict[tuple[str, int, str], list[list[float]]]


async def _measure(kind: str, fake: FakeProcess, regiebot: Side, bare: Side, stored: Side,
                   reps: int) -> None:
    samples: Samples = defaultdict(list)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        driver = Driver(fake, session)
        widest = max(users for users, _ in PLAN)
        for side in (regiebot, bare):  # unmeasured: each side opens its connections once
            await _batches(widest, 1, _melding_of(driver, side))
        for side in (regiebot, bare, stored):
            await driver.vote(side, WARM_UP, voter_user(0))
        for rep in range(reps):
            for users, batches in PLAN:
                for side in (regiebot, bare):
                    times = await _batches(users, batches, _melding_of(driver, side))
                    samples[("melding", users, side.name)].append(times)
                for side in (regiebot, bare, stored):
                    times = await _batches(users, batches, _vote_of(driver, side, (rep, users)))
                    samples[("stem", users, side.name)].append(times)
        failures = dict(driver.failures)
    titles = {"melding": "/melding → views.open", "stem": "stemklik → chat.update telling"}
    for action in ("melding", "stem"):
        for users, _ in PLAN:
            what = f"{titles[action]}, {users} gebr. ({kind})"
            _compare(samples, action, users, what, "bare", "kale bolt", "kaal", GOAL)
            if action == "stem":
                _compare(samples, action, users, f"{what}, met opslag", "stored",
                         "kale bolt met opslag", "kaal met opslag", None)
    if failures:
        print(f"  MISLUKT of niet aangekomen ({kind}): {failures}", flush=True)


def _compare(samples: Samples, action: str, users: int, what: str, base_name: str,
             against: str, short: str, goal: float | None) -> None:
    """The p50 and p99 of regiebot against one counterpart; without a goal the figure only
    shows how far regiebot is from that floor."""
    ours = samples[(action, users, "regiebot")]
    base = samples[(action, users, base_name)]
    pooled_ours = [t for rep in ours for t in rep]
    pooled_base = [t for rep in base for t in rep]
    per_rep = [ratio(percentile(a, 50), percentile(b, 50)) for a, b in zip(ours, base, strict=True)
               if a and b]
    p50 = (percentile(pooled_ours, 50) * 1000, percentile(pooled_base, 50) * 1000)
    p99 = (percentile(pooled_ours, 99) * 1000, percentile(pooled_base, 99) * 1000)
    goal_text = f"≤ {goal}×" if goal is not None else "-"
    counted = f"n={len(pooled_ours)}/{len(pooled_base)}"
    figure(f"{what} p50", f"regiebot {p50[0]:.1f} ms, {short} {p50[1]:.1f} ms; per herhaling "
           f"{spread(per_rep)}; {counted}", ratio(*p50), against, goal_text,
           None if goal is None else ratio(*p50) <= goal)
    figure(f"{what} p99", f"regiebot {p99[0]:.1f} ms, {short} {p99[1]:.1f} ms", ratio(*p99),
           against, goal_text, None if goal is None else ratio(*p99) <= goal)


def _problems_in_log(server: Server) -> str:
    text = server.log.read_text(errors="replace")
    locked = text.count("database is locked")
    errors = sum(1 for line in text.splitlines() if " ERROR " in line or "Traceback" in line)
    return f"{errors} foutregels, {locked}× 'database is locked'"


async def _run_kind(kind: str, url: str, fake: FakeProcess, folder: Path, reps: int) -> None:
    config = write_organisation(folder)
    references = await asyncio.to_thread(_prepare, url, config, folder, reps)
    await fake.post("/reset", {})
    regiebot = start_regiebot(url, config, fake.api_url, folder)
    bare = start_bare(fake.api_url, folder, folder / "view.json")
    stored = start_bare(fake.api_url, folder, folder / "view.json", store=url)
    try:
        await asyncio.gather(wait_healthy(regiebot), wait_healthy(bare), wait_healthy(stored))
        bare_refs = {key: f"BARE{key[0] % 100:02d}x{key[1]:02d}" for key in references}
        stored_refs = {key: f"OPSL{key[0] % 100:02d}x{key[1]:02d}" for key in references}
        await _measure(kind, fake, Side("regiebot", regiebot, references),
                       Side("bare", bare, bare_refs), Side("stored", stored, stored_refs), reps)
    finally:
        regiebot.stop()
        bare.stop()
        stored.stop()
    print(f"  regiebot-log ({kind}): {_problems_in_log(regiebot)}", flush=True)


def main() -> None:
    reps = int(os.environ.get("BENCH_SLACK_REPS", sized(1, 8)))
    print(f"{reps} herhalingen, afwisselend regiebot en kale bolt; 1 gebruiker: 25 na elkaar, "
          f"10: 2× 10 tegelijk, 50: 1× 50 tegelijk", flush=True)
    fake = FakeProcess()
    try:
        for kind in available_kinds():
            with tempfile.TemporaryDirectory(prefix="regiebot-bench-") as name, database(kind) as url:
                asyncio.run(_with_fake(kind, url, fake, Path(name), reps))
    finally:
        fake.stop()


async def _with_fake(kind: str, url: str, fake: FakeProcess, folder: Path, reps: int) -> None:
    async with fake:
        await _run_kind(kind, url, fake, folder, reps)


if __name__ == "__main__":
    main()
