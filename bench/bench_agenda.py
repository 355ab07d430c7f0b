"""Building an agenda must not scan the closed history.

Builds the agenda of one meeting with 5.000 open cases, next to 50.000 and then 500.000
closed ones, on SQLite and PostgreSQL, and prints the times and their ratio (near 1 is good).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from bench.common import available_kinds, database, services_for, timed
from commands import agenda
from commands.context import Services
from commands.orgsync import sync_organisation
from store.models import Case

OPEN = 5_000
CLOSED_SMALL = int(os.environ.get("BENCH_CLOSED", "50000"))
NOW = datetime(2026, 11, 19, 9, tzinfo=UTC)


def _case(n: int, phase: str) -> dict[str, Any]:
    filed = NOW - timedelta(days=n % 700 + 1)
    row: dict[str, Any] = {
        "reference": f"RT-B-{n:07d}", "year": 1000 + n // 9000, "seq": n % 9000 + 1,
        "regieteam_id": ("oost", "west")[n % 2], "corporation_id": "talis", "filed_by": "anna",
        "filed_at": filed, "phase": phase, "reason": "huurachterstand", "minor_children": n % 3,
        "arrears_cents": 100_000, "arrears_months": 3,
        "urgency_date": date(2026, 12, 1) + timedelta(days=n % 60), "voortraject": b"bench",
        "insufficient_because": b"bench", "tenant_informed": True, "wijk": "Oost", "contact_person": b"bench",
    }
    if phase == "in_uitvoering":
        row.update(scenario=1, casemanager_id="dirk", termijn=date(2026, 11, 1) + timedelta(days=n % 120),
                   terugkoppeling_weeks=4, next_terugkoppeling=date(2026, 11, 10) + timedelta(days=n % 90))
    if phase == "gesloten":
        row.update(closed_at=filed + timedelta(days=30), outcome="blijft_betalingsregeling")
    return row


async def _fill(services: Services, start: int, count: int, phase: str) -> None:
    batch = 5_000
    for first in range(start, start + count, batch):
        rows = [_case(n, phase) for n in range(first, min(first + batch, start + count))]
        async with services.transaction() as session:
            await session.execute(insert(Case), rows)


async def _measure(kind: str, url: str) -> None:
    services = services_for(url)
    services.clock = lambda: NOW
    async with services.transaction() as session:
        await sync_organisation(session, services.org)
    await _fill(services, 0, 300, "nieuw")
    await _fill(services, 300, OPEN - 300, "in_uitvoering")
    await _fill(services, OPEN, CLOSED_SMALL, "gesloten")
    meeting = agenda.next_meeting_date(services, "oost")
    first = await timed(lambda: agenda.build(services, "oost", meeting), repeat=1)
    small = await timed(lambda: agenda.build(services, "oost", meeting))
    await _fill(services, OPEN + CLOSED_SMALL, CLOSED_SMALL * 9, "gesloten")
    large = await timed(lambda: agenda.build(services, "oost", meeting))
    print(f"{kind:10} agenda {OPEN} open: first build {first * 1000:7.1f} ms; rebuild with "
          f"{CLOSED_SMALL} closed {small * 1000:7.1f} ms, with {CLOSED_SMALL * 10} closed "
          f"{large * 1000:7.1f} ms; ratio {large / small:4.2f}")
    await services.sessions.kw["bind"].dispose()


def main() -> None:
    for kind in available_kinds():
        with database(kind) as url:
            asyncio.run(_measure(kind, url))


if __name__ == "__main__":
    main()
