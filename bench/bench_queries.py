"""Figures that must stay flat as the closed history grows: building the agenda of Oost's next
meeting, `/status` (the coördinator's overview) and `/rapport` (the default half year, with
its chart and CSV), with 5.000 open cases and a closed history that grows from 5.000 to
50.000 (and 500.000 with BENCH_FULL=1 / `make bench-full`), on SQLite and PostgreSQL.

Data is bulk-loaded (bench/data.py), then ANALYZE runs, then each figure is timed: one
unmeasured run, then the median of up to three (fewer when one run is long). The agenda is
built in a transaction that is rolled back, so every run builds the same agenda from scratch.
Ratios are against the figure with the small history (goal ≤ 1.2×); `/rapport` also has an
absolute goal (< 1 s at 50.000).

Environment: BENCH_OPEN, BENCH_CLOSED ("5000,50000" or "5000,50000,500000"), BENCH_DBS.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from bench.common import BENCH_KEY, available_kinds, database, figure, mode, ratio, sized
from bench.data import History, analyze, load, utc_now

GOAL = 1.2
RAPPORT_GOAL_SECONDS = 1.0
BUDGET_SECONDS = 6.0  # stop repeating a figure once its runs took this long together
RUNS = 9


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    """Median seconds of up to RUNS runs after one unmeasured run (a quick figure gets all of
    them, so a single disturbed run on a shared machine does not move it; a slow one stops
    after BUDGET_SECONDS, with at least 3)."""
    await action()
    runs: list[float] = []
    while len(runs) < RUNS and (len(runs) < 3 or sum(runs) < BUDGET_SECONDS):
        start = time.perf_counter()
        await action()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


async def _measure_kind(kind: str, url: str, open_cases: int, sizes: list[int],
                        config: Path) -> dict[int, dict[str, float]]:
    from commands import agenda
    from commands.context import Services
    from commands.organisation import load_organisation
    from commands.orgsync import sync_organisation
    from commands.rapport import LONGEST_PERIOD_DAYS, rapport
    from commands.rollups import rebuild_figures
    from commands.status import status_overview
    from store.crypto import PersonalDataCipher
    from store.db import make_engine, make_sessionmaker

    now = utc_now()
    engine = make_engine(url)
    services = Services(sessions=make_sessionmaker(engine), org=load_organisation(config),
                        cipher=PersonalDataCipher(BENCH_KEY), clock=lambda: now)
    coordinator = services.org.with_role("coordinator")[0]
    meeting = agenda.next_meeting_date(services, "oost")
    longest = (services.today() - timedelta(days=LONGEST_PERIOD_DAYS)).strftime("%d-%m-%Y")

    async def build_agenda() -> None:
        async with services.sessions() as session:
            await agenda._build(session, services, "oost", meeting)
            await session.rollback()

    results: dict[int, dict[str, float]] = {}
    try:
        async with services.transaction() as session:
            await sync_organisation(session, services.org)
        history = History(services.org, now, services.cipher.encrypt("bench"))
        started = time.perf_counter()
        await load(services, history, open_cases, closed=False)
        loaded = 0
        for size in sizes:
            await load(services, history, size - loaded, closed=True)
            loaded = size
            await rebuild_figures(services)  # bulk rows bypass the use cases that keep them
            await analyze(services)
            load_seconds = time.perf_counter() - started
            results[size] = {
                "agenda": await timed(build_agenda),
                "status": await timed(lambda: status_overview(services, coordinator)),
                "rapport": await timed(lambda: rapport(services, coordinator)),
                "rapport_lang": await timed(lambda: rapport(services, coordinator, longest)),
            }
            print(f"  {kind}: {open_cases} open + {size} gesloten (geladen na {load_seconds:.0f} s): "
                  + ", ".join(f"{name} {s * 1000:.0f} ms" for name, s in results[size].items()),
                  flush=True)
            started = time.perf_counter()
    finally:
        await engine.dispose()
    return results


def _figures(kind: str, open_cases: int, results: dict[int, dict[str, float]]) -> None:
    sizes = sorted(results)
    small = sizes[0]
    titles = {"agenda": "agenda bouwen", "status": "/status overzicht",
              "rapport": "/rapport halfjaar", "rapport_lang": "/rapport langste periode"}
    pairs = [(small, big) for big in sizes[1:]]
    if len(sizes) > 2:
        pairs.append((sizes[1], sizes[-1]))  # the 50.000 → 500.000
    for name, title in titles.items():
        if name == "rapport_lang":
            continue  # a longer history fills more of the longest period: only its time counts
        for base, big in pairs:
            r = ratio(results[big][name], results[base][name])
            value = (f"{results[base][name] * 1000:.0f} → {results[big][name] * 1000:.0f} ms "
                     f"({open_cases} open)")
            figure(f"{title}, geschiedenis {base} → {big} ({kind})", value, r,
                   f"{base} gesloten", f"≤ {GOAL}×", r <= GOAL)
    at = 50_000 if 50_000 in results else sizes[-1]
    for name in ("rapport", "rapport_lang"):
        seconds = results[at][name]
        figure(f"{titles[name]} bij {at} gesloten ({kind})", f"{seconds * 1000:.0f} ms",
               ratio(seconds, RAPPORT_GOAL_SECONDS), "1 s", "< 1 s",
               seconds < RAPPORT_GOAL_SECONDS)


def main() -> None:
    import tempfile

    from bench.common import write_organisation

    open_cases = int(os.environ.get("BENCH_OPEN", sized(500, 5000)))
    default = {"quick": "500,5000", "normal": "5000,50000", "full": "5000,50000,500000"}[mode()]
    sizes = [int(s) for s in os.environ.get("BENCH_CLOSED", default).split(",")]
    with tempfile.TemporaryDirectory(prefix="regiebot-bench-") as name:
        config = write_organisation(Path(name))
        for kind in available_kinds():
            with database(kind) as url:
                results = asyncio.run(_measure_kind(kind, url, open_cases, sizes, config))
            _figures(kind, open_cases, results)


if __name__ == "__main__":
    main()
