"""Reminders: how long it takes to dispatch 10.000 due reminders through a fake platform, and
how long the scheduler takes to start (to the end of its first dispatch run) with 10.000
reminders scheduled in the future. SQLite, and PostgreSQL when it can be reached.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from bench.common import available_kinds, database, services_for
from bot.delivery import Deliveries
from bot.scheduler import start_scheduler
from bot.settings import Settings
from commands.context import Services
from commands.orgsync import sync_organisation
from commands.reminders import dispatch_due
from commands.replies import Outgoing
from messages.render import renderer
from store.models import Case, Reminder

COUNT = int(os.environ.get("BENCH_REMINDERS", "10000"))
CASES = 500
NOW = datetime(2026, 11, 24, 8, tzinfo=UTC)


class FakePlatform:
    """Renders every message as a platform adapter would, and counts it."""

    platform = "bench"

    def __init__(self) -> None:
        self.delivered = 0

    def can_reach(self, item: Outgoing) -> bool:
        return True

    async def deliver(self, item: Outgoing) -> None:
        renderer("plain").render(item.message)
        self.delivered += 1


def _case(n: int) -> dict[str, Any]:
    return {
        "reference": f"RT-B-{n:05d}", "year": 2026, "seq": n + 1, "regieteam_id": "oost",
        "corporation_id": "talis", "filed_by": "anna", "filed_at": NOW - timedelta(days=40),
        "phase": "in_uitvoering", "reason": "huurachterstand", "minor_children": 0,
        "arrears_cents": 100_000, "arrears_months": 3, "voortraject": b"bench",
        "insufficient_because": b"bench", "tenant_informed": True, "wijk": "Oost",
        "contact_person": b"bench", "scenario": 1, "casemanager_id": "dirk",
        "termijn": date(2027, 3, 1), "terugkoppeling_weeks": 4,
        "ontruiming_date": date(2026, 12, 20),
    }


async def _fill(services: Services, due: datetime) -> None:
    async with services.transaction() as session:
        await sync_organisation(session, services.org)
        await session.execute(insert(Case), [_case(n) for n in range(CASES)])
        case_ids = list((await session.scalars(select(Case.id))).all())
    rows = [
        {"dedupe_key": f"bench:{n}", "kind": "ontruiming_nabij", "case_id": case_ids[n % CASES],
         "target_member_id": ("dirk", "carla")[n % 2], "due_at": due,
         "payload": {"series": f"bench:{n}", "n": 0, "datum": "2026-12-20"}}
        for n in range(COUNT)
    ]
    for first in range(0, COUNT, 5000):
        async with services.transaction() as session:
            await session.execute(insert(Reminder), rows[first:first + 5000])


async def _dispatch(kind: str, url: str) -> None:
    services = services_for(url)
    services.clock = lambda: NOW
    await _fill(services, NOW - timedelta(minutes=5))
    platform = FakePlatform()
    start = time.perf_counter()
    sent = await dispatch_due(services, Deliveries([platform]), "bench")
    seconds = time.perf_counter() - start
    assert sent == COUNT == platform.delivered, (sent, platform.delivered)
    print(f"{kind:10} dispatch {COUNT} due reminders: {seconds:6.2f} s "
          f"({COUNT / seconds:7.0f} per second)")
    await services.sessions.kw["bind"].dispose()


async def _startup(kind: str, url: str) -> None:
    services = services_for(url)
    services.clock = lambda: NOW
    await _fill(services, NOW + timedelta(days=7))
    settings = Settings(_env_file=None, REGIEBOT_DATABASE_URL=url)
    start = time.perf_counter()
    bot = await start_scheduler(services, Deliveries([FakePlatform()]), settings,
                                dispatch_seconds=3600)
    started = time.perf_counter() - start
    for _ in range(100_000):  # the first dispatch runs at once in the background
        if bot.runs["reminders.dispatch"]:
            break
        await asyncio.sleep(0.001)
    first_run = time.perf_counter() - start
    await bot.stop()
    print(f"{kind:10} start-up with {COUNT} scheduled reminders: scheduler running after "
          f"{started * 1000:6.1f} ms, first dispatch done after {first_run * 1000:6.1f} ms")
    await services.sessions.kw["bind"].dispose()


def main() -> None:
    for kind in available_kinds():
        with database(kind) as url:
            asyncio.run(_dispatch(kind, url))
        with database(kind) as url:
            asyncio.run(_startup(kind, url))


if __name__ == "__main__":
    main()
