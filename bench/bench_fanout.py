"""Fan-out: 1.000 due reminders over 20 partner channels, sent by the product's own dispatcher
(`commands.reminders.dispatch_due` with the Slack courier) to the fake Slack Web API in its own
process, which allows 1 message per second per channel and answers anything faster with
429 + Retry-After, as Slack does.

The dispatcher runs for a fixed window (or until it is done). Figure: messages accepted in the
window ÷ what the limit allows in that window, Σ over channels of min(reminders for the
channel, 1 + window × the channel's rate). A channel that answers slowly allows at most one
message per answer time (one worker per channel cannot do better). Variants: evenly spread;
one channel with most reminders; evenly spread with one slow channel.

Telegram: the same even spread through the Telegram courier against tests/faketelegram.py
with Telegram's limits (20 messages per minute per group, 30 per second overall, 429 with
`retry_after` beyond them).

Environment: BENCH_FANOUT_SECONDS (window), BENCH_FANOUT_DBS (default sqlite).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench.common import (
    BENCH_KEY,
    FANOUT_CHANNELS,
    available_kinds,
    database,
    fanout_channel,
    fanout_partner,
    figure,
    sized,
    write_organisation,
)
from bench.fakeapi import FakeProcess
from commands.words import ReminderKind

REMINDERS = 1000
CASES = 50
PER_CHANNEL_SECONDS = 1.0
SLOW_SECONDS = 3.0
GOAL = 0.9
VARIANTS = {
    "gelijk verdeeld": ([REMINDERS // FANOUT_CHANNELS] * FANOUT_CHANNELS, {}),
    "één kanaal met de meeste": ([REMINDERS - 10 * (FANOUT_CHANNELS - 1)]
                                 + [10] * (FANOUT_CHANNELS - 1), {}),
    "één traag kanaal": ([REMINDERS // FANOUT_CHANNELS] * FANOUT_CHANNELS,
                         {fanout_channel(0): SLOW_SECONDS}),
}


def _case_row(n: int, secret: bytes, now: datetime) -> dict[str, Any]:
    return {
        "reference": f"RT-2026-{n + 1:04d}", "year": 2026, "seq": n + 1, "regieteam_id": "oost",
        "corporation_id": "talis", "filed_by": "anna", "filed_at": now - timedelta(days=3),
        "phase": "nieuw", "reason": "huurachterstand", "minor_children": 0,
        "arrears_cents": 100_000, "arrears_months": 3, "voortraject": secret,
        "insufficient_because": secret, "tenant_informed": True, "wijk": "Oost",
        "contact_person": secret, "urgency_date": (now + timedelta(days=10)).date(),
    }


async def _fill(services: Any, counts: list[int]) -> None:
    from commands.orgsync import sync_organisation
    from store.models import Case, Reminder

    now = datetime.now(UTC)
    secret = services.cipher.encrypt("bench")  # encrypted once, used for every row
    async with services.transaction() as session:
        await sync_organisation(session, services.org)
        await session.execute(insert(Case), [_case_row(n, secret, now) for n in range(CASES)])
        case_ids = list((await session.scalars(select(Case.id))).all())
    channels = [c for c, count in enumerate(counts) for _ in range(count)]
    random.Random(7).shuffle(channels)  # the busy channel's reminders among the others
    rows = [{"dedupe_key": f"bench:{n}", "kind": ReminderKind.SPOED, "case_id": case_ids[n % CASES],
             "target_partner_id": fanout_partner(channel), "due_at": now - timedelta(minutes=1),
             "payload": {}} for n, channel in enumerate(channels)]
    async with services.transaction() as session:
        await session.execute(insert(Reminder), rows)


def _allowed(counts: list[int], slow: dict[str, float], seconds: float) -> int:
    total = 0
    for c, count in enumerate(counts):
        every = max(PER_CHANNEL_SECONDS, slow.get(fanout_channel(c), 0.0))
        total += min(count, 1 + math.floor(seconds / every))
    return total


async def _variant(kind: str, url: str, config: Path, fake: FakeProcess, name: str,
                   counts: list[int], slow: dict[str, float], window: float) -> None:
    from bot.delivery import Deliveries
    from bot.settings import Settings
    from bot.slack.adapter import create_slack
    from commands.context import Services
    from commands.organisation import load_organisation
    from commands.reminders import dispatch_due
    from store.crypto import PersonalDataCipher
    from store.db import make_engine, make_sessionmaker
    from tests.fakeslack import BOT_TOKEN, SIGNING_SECRET

    engine = make_engine(url)
    services = Services(sessions=make_sessionmaker(engine), org=load_organisation(config),
                        cipher=PersonalDataCipher(BENCH_KEY))
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN,
                        SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake.api_url,
                        REGIEBOT_SECRET_KEY=BENCH_KEY)
    try:
        await _fill(services, counts)
        await fake.post("/reset", {})
        await fake.post("/limits", {"per_channel_seconds": PER_CHANNEL_SECONDS, "slow": slow})
        deliveries = Deliveries()
        adapter = create_slack(services, settings, deliveries)
        start = time.monotonic()
        task = asyncio.create_task(dispatch_due(services, deliveries, "bench"))
        done, _ = await asyncio.wait({task}, timeout=window)
        elapsed = min(window, time.monotonic() - start)
        if not done:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        stats = await fake.stats()
        await adapter.stop()
    finally:
        await engine.dispose()
    accepted = [at for at, _channel in stats["accepted"] if start <= at <= start + elapsed]
    allowed = _allowed(counts, slow, elapsed)
    rate = len(accepted) / allowed if allowed else float("nan")
    figure(f"fan-out {REMINDERS} herinneringen / {FANOUT_CHANNELS} kanalen, {name} ({kind})",
           f"{len(accepted)} van {allowed} toegestaan in {elapsed:.1f} s "
           f"({len(accepted) / elapsed:.2f}/s), {stats['limited']}× 429",
           rate, "toegestane rate", f"≥ {GOAL}", rate >= GOAL)


TELEGRAM_PER_GROUP_SECONDS = 3.0  # 20 per minute
TELEGRAM_PER_SECOND = 30


async def _telegram(kind: str, url: str, config: Path, fake: FakeProcess, window: float) -> None:
    """The same even fan-out through the Telegram courier, 20/min per group, 30/s overall."""
    from telegram.ext import ExtBot

    from bot.delivery import Deliveries
    from bot.telegram.courier import ChatPacer, TelegramCourier
    from commands.context import Services
    from commands.organisation import load_organisation
    from commands.reminders import dispatch_due
    from store.crypto import PersonalDataCipher
    from store.db import make_engine, make_sessionmaker
    from tests.faketelegram import TOKEN

    counts = [REMINDERS // FANOUT_CHANNELS] * FANOUT_CHANNELS
    engine = make_engine(url)
    services = Services(sessions=make_sessionmaker(engine), org=load_organisation(config),
                        cipher=PersonalDataCipher(BENCH_KEY))
    bot = ExtBot(token=TOKEN, base_url=f"{fake.base_url}/bot", rate_limiter=ChatPacer())
    try:
        await _fill(services, counts)
        await fake.post("/reset", {})
        await fake.post("/limits", {"on": True})
        await bot.initialize()
        deliveries = Deliveries()
        deliveries.add(TelegramCourier(bot, services, deliveries))
        start = time.monotonic()
        task = asyncio.create_task(dispatch_due(services, deliveries, "bench"))
        done, _ = await asyncio.wait({task}, timeout=window)
        elapsed = min(window, time.monotonic() - start)
        if not done:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        stats = await fake.stats()
    finally:
        with contextlib.suppress(Exception):
            await bot.shutdown()
        await engine.dispose()
    accepted = [at for at, _chat in stats["accepted"] if start <= at <= start + elapsed]
    per_group = sum(min(n, 1 + math.floor(elapsed / TELEGRAM_PER_GROUP_SECONDS)) for n in counts)
    allowed = min(per_group, TELEGRAM_PER_SECOND * (1 + math.floor(elapsed)))
    rate = len(accepted) / allowed if allowed else float("nan")
    figure(f"Telegram fan-out {REMINDERS} herinneringen / {FANOUT_CHANNELS} groepen, "
           f"gelijk verdeeld ({kind})",
           f"{len(accepted)} van {allowed} toegestaan in {elapsed:.1f} s, {stats['limited']}× 429",
           rate, "toegestane rate", f"≥ {GOAL}", rate >= GOAL)


async def _run_telegram(kind: str, url: str, config: Path, fake: FakeProcess,
                        window: float) -> None:
    async with fake:
        await _telegram(kind, url, config, fake, window)


def main() -> None:
    # The dispatcher is cancelled at the end of each window, sometimes inside a rollback: the
    # pool's report of that interrupted rollback is expected, not a finding.
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    window = float(os.environ.get("BENCH_FANOUT_SECONDS", sized(8, 20)))
    kinds = [k for k in available_kinds()
             if k in os.environ.get("BENCH_FANOUT_DBS", "sqlite").split(",")]
    print(f"venster {window:.0f} s per variant; {PER_CHANNEL_SECONDS:.0f} bericht/s per kanaal; "
          f"traag kanaal antwoordt na {SLOW_SECONDS:.0f} s; databases: {', '.join(kinds)}",
          flush=True)
    fake = FakeProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="regiebot-bench-") as name:
            config = write_organisation(Path(name))
            for kind in kinds:
                for variant, (counts, slow) in VARIANTS.items():
                    with database(kind) as url:
                        asyncio.run(_run(kind, url, config, fake, variant, counts, slow, window))
    finally:
        fake.stop()
    telegram = FakeProcess("telegram")
    try:
        with tempfile.TemporaryDirectory(prefix="regiebot-bench-") as name:
            config = write_organisation(Path(name))
            for kind in kinds:
                with database(kind) as url:
                    asyncio.run(_run_telegram(kind, url, config, telegram, window))
    finally:
        telegram.stop()


async def _run(kind: str, url: str, config: Path, fake: FakeProcess, variant: str,
               counts: list[int], slow: dict[str, float], window: float) -> None:
    async with fake:
        await _variant(kind, url, config, fake, variant, counts, slow, window)


if __name__ == "__main__":
    main()
