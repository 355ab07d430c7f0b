"""Figures that must stay flat as the closed history grows: building the agenda of Oost's next
meeting, `/status` (the coördinator's overview) and `/rapport` (the default half year, with
its chart and CSV), with 5.000 open cases and a closed history that grows from 5.000 to
50.000 (and 500.000 with BENCH_FULL=1 / `make bench-full`), on SQLite and PostgreSQL.

Each history size is a database of its own, bulk-loaded the same way (bench/data.py: the same
open cases and the same first closed cases), with its rollups rebuilt and its statistics
gathered (ANALYZE; VACUUM ANALYZE on PostgreSQL). Then each figure is timed in turns across
the sizes: one unmeasured run on each, then the median of up to nine turns (fewer when a run is
long). The agenda is built in a transaction that is rolled back, so every run builds the same
agenda from scratch.
Ratios are against the figure with the small history (goal ≤ 1.2×); `/rapport` also has an
absolute goal (< 1 s at 50.000).

Environment: BENCH_OPEN, BENCH_CLOSED ("5000,50000" or "5000,50000,500000"), BENCH_DBS.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import BENCH_KEY, available_kinds, database, figure, mode, ratio, sized
from bench.data import History, analyze, load, utc_now

GOAL = 1.2
RAPPORT_GOAL_SECONDS = 1.0
BUDGET_SECONDS = 6.0  # stop repeating a figure once its runs took this long together
RUNS = 9


Action = Callable[[], Awaitable[object]]


async def timed_in_turn(actions: list[Action]) -> list[float]:
    """The median seconds of each action, run in turns (one of each, then again), after one
    unmeasured run each: what disturbs the machine for a moment falls on every size alike. Up
    to RUNS turns (a quick figure gets all of them, so a single disturbed run does not move
    it); a slow one stops once its runs took BUDGET_SECONDS per action, with at least 3."""
    for action in actions:
        await action()
    runs: list[list[float]] = [[] for _ in actions]
    while len(runs[0]) < RUNS and (
            len(runs[0]) < 3 or sum(map(sum, runs)) < BUDGET_SECONDS * len(actions)):
        for action, times in zip(actions, runs, strict=True):
            start = time.perf_counter()
            await action()
            times.append(time.perf_counter() - start)
    return [statistics.median(times) for times in runs]


@dataclass
class Loaded:
    """One history size in a database of its own, with the figures to time on it."""

    engine: AsyncEngine
    actions: dict[str, Action]
    load_seconds: float


FIGURES = ("agenda", "status", "rapport", "rapport_lang")


async def _loaded(url: str, open_cases: int, closed: int, config: Path, now: datetime) -> Loaded:
    """A database with `open_cases` open and `closed` closed cases, its rollups rebuilt and its
    statistics gathered. Every size gets the same open cases and the same first closed cases
    (the history is deterministic and grows back in time)."""
    from commands import agenda
    from commands.context import Services
    from commands.organisation import load_organisation
    from commands.orgsync import sync_organisation
    from commands.rapport import LONGEST_PERIOD_DAYS, rapport
    from commands.rollups import rebuild_figures
    from commands.status import status_overview
    from store.crypto import PersonalDataCipher
    from store.db import make_engine, make_sessionmaker

    started = time.perf_counter()
    engine = make_engine(url)
    services = Services(sessions=make_sessionmaker(engine), org=load_organisation(config),
                        cipher=PersonalDataCipher(BENCH_KEY), clock=lambda: now)
    async with services.transaction() as session:
        await sync_organisation(session, services.org)
    history = History(services.org, now, services.cipher.encrypt("bench"))
    await load(services, history, open_cases, closed=False)
    await load(services, history, closed, closed=True)
    await rebuild_figures(services)  # bulk rows bypass the use cases that keep them
    await analyze(services)
    coordinator = services.org.with_role("coordinator")[0]
    meeting = agenda.next_meeting_date(services, "oost")
    longest = (services.today() - timedelta(days=LONGEST_PERIOD_DAYS)).strftime("%d-%m-%Y")

    async def build_agenda() -> None:
        async with services.sessions() as session:
            await agenda._build(session, services, "oost", meeting)
            await session.rollback()

    actions: dict[str, Action] = {
        "agenda": build_agenda,
        "status": lambda: status_overview(services, coordinator),
        "rapport": lambda: rapport(services, coordinator),
        "rapport_lang": lambda: rapport(services, coordinator, longest),
    }
    return Loaded(engine, actions, time.perf_counter() - started)


async def _measure_kind(kind: str, urls: dict[int, str], open_cases: int,
                        config: Path) -> dict[int, dict[str, float]]:
    now = utc_now()
    loaded: dict[int, Loaded] = {}
    try:
        for size, url in urls.items():
            loaded[size] = await _loaded(url, open_cases, size, config, now)
            print(f"  {kind}: {open_cases} open + {size} gesloten geladen in "
                  f"{loaded[size].load_seconds:.0f} s", flush=True)
        results: dict[int, dict[str, float]] = {size: {} for size in loaded}
        for name in FIGURES:
            medians = await timed_in_turn([side.actions[name] for side in loaded.values()])
            for size, seconds in zip(loaded, medians, strict=True):
                results[size][name] = seconds
        for size, figures in results.items():
            print(f"  {kind}: {open_cases} open + {size} gesloten: "
                  + ", ".join(f"{name} {s * 1000:.0f} ms" for name, s in figures.items()),
                  flush=True)
        return results
    finally:
        for side in loaded.values():
            await side.engine.dispose()


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
            with contextlib.ExitStack() as stack:  # one database per history size
                urls = {size: stack.enter_context(database(kind)) for size in sizes}
                results = asyncio.run(_measure_kind(kind, urls, open_cases, config))
            _figures(kind, open_cases, results)


if __name__ == "__main__":
    main()
