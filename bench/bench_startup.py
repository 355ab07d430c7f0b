"""Start-up: `regiebot run` (Slack over HTTP, SQLite, against the fake Slack Web API) next to
the bare slack-bolt app, started alternately; time from starting the process to the first
`/healthz` that answers 200, and the resident memory (VmRSS) once it has been idle for a
moment. Then `python -X importtime` of `regiebot run`: the ten slowest imports.

Environment: BENCH_STARTUP_REPS (repetitions); BENCH_STARTUP_BEFORE=<another checkout> also
starts that tree's `regiebot run` in every repetition (same interpreter and packages, its code
first on PYTHONPATH), to compare a change against the code before it, interleaved.
"""

from __future__ import annotations

import asyncio
import compileall
import os
import statistics
import tempfile
from pathlib import Path

from bench.common import (
    PYTHON,
    REGIEBOT,
    ROOT,
    Server,
    figure,
    free_port,
    ratio,
    regiebot_env,
    sized,
    spread,
    start_bare,
    start_process,
    start_regiebot,
    wait_healthy,
    write_organisation,
)
from bench.fakeapi import FakeProcess

IDLE_SECONDS = 2.0  # how long a started server idles before its memory is read
START_GOAL_SECONDS = 3.0
RSS_GOAL_MB = 150.0


async def _start_once(server: Server) -> tuple[float, float]:
    try:
        seconds = await wait_healthy(server)
        await asyncio.sleep(IDLE_SECONDS)  # idle: nothing to wait for but time
        return seconds, server.rss_mb()
    finally:
        server.stop()


def _migrated_sqlite(folder: Path) -> str:
    from store.db import upgrade

    url = f"sqlite:///{folder}/startup.db"
    upgrade(url)
    return url


def _start_other_tree(tree: Path, url: str, config: Path, api_url: str, folder: Path) -> Server:
    """`regiebot run` from another checkout: its packages come first on PYTHONPATH."""
    port = free_port()
    env = {**regiebot_env(url, config, api_url, port), "PYTHONPATH": str(tree)}
    return start_process("regiebot-ervoor", [REGIEBOT, "run"], port, folder, env)


PACKAGES = ("bot", "commands", "store", "messages")


def compiled(tree: Path) -> None:
    """Compile the tree's own modules to bytecode first, as an installed package (the image)
    has them: the libraries both apps use are compiled at install, and a start that also
    compiles the bot's source would measure the compiler."""
    for package in PACKAGES:
        compileall.compile_dir(tree / package, quiet=1)


async def _measure(fake: FakeProcess, folder: Path, reps: int) -> None:
    config = write_organisation(folder)
    url = _migrated_sqlite(folder)
    before_tree = os.environ.get("BENCH_STARTUP_BEFORE")
    compiled(ROOT)
    if before_tree:
        compiled(Path(before_tree))
    ours: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    before: list[tuple[float, float]] = []
    for _ in range(reps):
        if before_tree:
            before.append(await _start_once(
                _start_other_tree(Path(before_tree), url, config, fake.api_url, folder)))
        ours.append(await _start_once(start_regiebot(url, config, fake.api_url, folder)))
        base.append(await _start_once(start_bare(fake.api_url, folder)))
    if before:
        _compare(before, ours, base, before_tree or "", reps)
    start = (statistics.median(s for s, _ in ours), statistics.median(s for s, _ in base))
    rss = (statistics.median(r for _, r in ours), statistics.median(r for _, r in base))
    per_rep = [ratio(a[0], b[0]) for a, b in zip(ours, base, strict=True)]
    figure("start-up regiebot run → eerste /healthz",
           f"regiebot {start[0]:.2f} s, kaal {start[1]:.2f} s (mediaan van {reps}); per herhaling "
           f"{spread(per_rep)}; doel ook < {START_GOAL_SECONDS:.0f} s op een rustige machine",
           ratio(*start), "kale bolt", "≤ 2×", ratio(*start) <= 2.0)
    figure("geheugen (RSS) na start, rust",
           f"regiebot {rss[0]:.1f} MB, kaal {rss[1]:.1f} MB; doel ook < {RSS_GOAL_MB:.0f} MB",
           ratio(*rss), "kale bolt", f"< {RSS_GOAL_MB:.0f} MB", rss[0] < RSS_GOAL_MB)
    await _importtime(url, config, fake.api_url, folder)


def _compare(before: list[tuple[float, float]], ours: list[tuple[float, float]],
             base: list[tuple[float, float]], tree: str, reps: int) -> None:
    seconds = [statistics.median(s for s, _ in runs) for runs in (before, ours, base)]
    rss = [statistics.median(r for _, r in runs) for runs in (before, ours, base)]
    print(f"  ervoor ({tree}): start {seconds[0]:.2f} s = {ratio(seconds[0], seconds[2]):.2f}× "
          f"kaal, RSS {rss[0]:.1f} MB = {ratio(rss[0], rss[2]):.2f}× kaal; nu: start "
          f"{seconds[1]:.2f} s = {ratio(seconds[1], seconds[2]):.2f}× kaal, RSS {rss[1]:.1f} MB = "
          f"{ratio(rss[1], rss[2]):.2f}× kaal (medianen van {reps}, om en om)", flush=True)
    for label, runs in (("ervoor", before), ("nu", ours), ("kaal", base)):
        print(f"    {label:<6} " + "  ".join(f"{s:.2f} s {r:.0f} MB" for s, r in runs))


async def _importtime(url: str, config: Path, api_url: str, folder: Path) -> None:
    """Start `regiebot run` under -X importtime, stop it once healthy, rank its imports."""
    argv = [PYTHON, "-X", "importtime", "-c",
            "import sys; from bot.cli import main; sys.exit(main())"]
    server = start_regiebot(url, config, api_url, folder, extra_argv=argv)
    try:
        await wait_healthy(server)
    finally:
        server.stop()
    rows: list[tuple[int, int, str]] = []
    for line in server.log.read_text(errors="replace").splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        parts = line.split(":", 1)[1].split("|")
        if len(parts) == 3 and parts[0].strip().isdigit() and parts[1].strip().isdigit():
            rows.append((int(parts[1]), int(parts[0]), parts[2].rstrip()))
    top = sorted(rows, reverse=True)[:10]
    print("  python -X importtime van `regiebot run`: de 10 hoogste cumulatieve tijden "
          "(ingesprongen = geïmporteerd door een module erboven):", flush=True)
    for cumulative, own, name in top:
        print(f"    {cumulative / 1000:8.1f} ms cumulatief {own / 1000:7.1f} ms zelf  {name}")
    own_top = sorted(rows, key=lambda r: r[1], reverse=True)[:10]
    print("  en de 10 hoogste eigen tijden:", flush=True)
    for cumulative, own, name in own_top:
        print(f"    {own / 1000:8.1f} ms zelf {cumulative / 1000:8.1f} ms cumulatief  {name.strip()}")


def main() -> None:
    reps = int(os.environ.get("BENCH_STARTUP_REPS", sized(1, 3)))
    fake = FakeProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="regiebot-bench-") as name:
            asyncio.run(_measure(fake, Path(name), reps))
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
