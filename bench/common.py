"""Shared pieces of the benchmarks: sizes (quick / normal / full), fresh databases, an
organisation file with many members and channels, server processes, statistics and the
summary that `python -m bench` prints at the end.

Every figure goes through `figure(...)`: it is printed at once and kept for the summary, as
an absolute value plus a ratio against its floor (a bare counterpart, a small history, or
an allowed rate) and the goal from the issue "Performance to the anchors".
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "deploy" / "regieteam.example.yaml"
PG_ADMIN_URL = os.environ.get("REGIEBOT_BENCH_PG_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
PYTHON = sys.executable
REGIEBOT = str(Path(PYTHON).with_name("regiebot"))

# --- sizes ------------------------------------------------------------------------------------


def mode() -> str:
    """'quick' (BENCH_QUICK=1: small sizes, to see the harness run end to end), 'full'
    (BENCH_FULL=1: adds the 500.000-case history) or 'normal' (`make bench`)."""
    if os.environ.get("BENCH_QUICK") == "1":
        return "quick"
    if os.environ.get("BENCH_FULL") == "1":
        return "full"
    return "normal"


def sized(quick: int, normal: int, full: int | None = None) -> int:
    """A size for the current mode; an environment override wins in the caller."""
    return {"quick": quick, "normal": normal, "full": normal if full is None else full}[mode()]


# --- databases --------------------------------------------------------------------------------


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


_PG_SAID = False


def available_kinds() -> list[str]:
    """SQLite always; PostgreSQL when it answers (said out loud, once, when it does not).
    BENCH_DBS=sqlite (or postgresql) limits the choice."""
    global _PG_SAID
    wanted = os.environ.get("BENCH_DBS", "sqlite,postgresql").split(",")
    kinds: list[str] = [k for k in ("sqlite", "postgresql") if k in wanted]
    if "postgresql" in kinds and not pg_available():
        if not _PG_SAID:
            print(f"!! PostgreSQL op {PG_ADMIN_URL} is NIET bereikbaar: alleen SQLite gemeten",
                  flush=True)
            _PG_SAID = True
        kinds.remove("postgresql")
    return kinds


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A migrated, empty database that is removed afterwards (a fresh PostgreSQL database
    `regiebot_bench_<random>`, dropped at the end; or a SQLite file in a temporary folder)."""
    from store.db import upgrade

    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="regiebot-bench-") as folder:
            url = f"sqlite:///{folder}/bench.db"
            upgrade(url)
            yield url
        return
    name = f"regiebot_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the organisation -------------------------------------------------------------------------

MELDERS = 50
VOTERS = 50
FANOUT_CHANNELS = 20


def melder_user(i: int) -> str:
    return f"U0M{i:03d}"


def voter_user(i: int) -> str:
    return f"U0V{i:03d}"


def fanout_partner(i: int) -> str:
    return f"kanaal{i:02d}"


def fanout_channel(i: int) -> str:
    return f"C0FAN{i:02d}"


def fanout_group(i: int) -> int:
    return -1002000000 - i


def write_organisation(folder: Path) -> Path:
    """The example organisation plus 50 melders, 50 voting members of Regieteam Oost (named
    after their Slack user id, so a tally shows which vote it holds) and 20 partners with a
    Slack channel and a Telegram group each (for the fan-out)."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["partners"] += [
        {"id": fanout_partner(i), "name": f"Bench-kanaal {i:02d}", "kind": "buurtteam",
         "slack_channel": fanout_channel(i), "telegram_chat": fanout_group(i)}
        for i in range(FANOUT_CHANNELS)]
    data["members"] += [
        {"id": f"melder{i:03d}", "name": f"Melder {melder_user(i)}", "partner": "talis",
         "roles": ["melder"], "slack_user": melder_user(i)} for i in range(MELDERS)]
    data["members"] += [
        {"id": f"stemmer{i:03d}", "name": f"Stemmer {voter_user(i)}", "partner": "buurtteam",
         "roles": ["lid"], "regieteams": ["oost"], "slack_user": voter_user(i)}
        for i in range(VOTERS)]
    path = folder / "regieteam.bench.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server in its own process; its output goes to a log file."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    started: float  # time.monotonic() just before the process was started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        """Resident memory of the process (VmRSS), in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_process(name: str, argv: Sequence[str], port: int, folder: Path,
                  env: dict[str, str] | None = None) -> Server:
    log = folder / f"{name}.log"
    handle: IO[bytes] = log.open("wb")
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    started = time.monotonic()
    process = subprocess.Popen(list(argv), cwd=folder, env=full_env, stdout=handle,
                               stderr=subprocess.STDOUT)
    handle.close()
    return Server(name, process, port, log, started)


async def wait_healthy(server: Server, within: float = 120.0) -> float:
    """Poll GET /healthz until it answers 200; return seconds since the process started.
    (A start-up is the one thing that has no event to wait on from outside.)"""
    import aiohttp

    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} stopte (code {server.process.returncode}):\n"
                                   f"{server.tail()}")
            try:
                async with session.get(f"{server.url}/healthz",
                                       timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == 200:
                        return time.monotonic() - server.started
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.02)
    raise TimeoutError(f"{server.name} werd niet gezond binnen {within} s:\n{server.tail()}")


def regiebot_env(db_url: str, config: Path, api_url: str, port: int) -> dict[str, str]:
    """`regiebot run` with Slack over HTTP against the fake Web API."""
    from tests.fakeslack import BOT_TOKEN, SIGNING_SECRET

    return {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api_url, "REGIEBOT_SECRET_KEY": BENCH_KEY,
            "REGIEBOT_DATABASE_URL": db_url, "REGIEBOT_CONFIG": str(config),
            "REGIEBOT_HTTP_PORT": str(port), "REGIEBOT_HTTP_HOST": "127.0.0.1"}


BENCH_KEY = Fernet.generate_key().decode()  # one key per bench run, for every process


def start_regiebot(db_url: str, config: Path, api_url: str, folder: Path,
                   extra_argv: Sequence[str] = ()) -> Server:
    port = free_port()
    argv = [*extra_argv, "run"] if extra_argv else [REGIEBOT, "run"]
    return start_process("regiebot", argv, port, folder,
                         regiebot_env(db_url, config, api_url, port))


def start_bare(api_url: str, folder: Path, view: Path | None = None,
               store: str | None = None) -> Server:
    """The bare bolt app; with `store` (a database URL) it stores each vote first."""
    port = free_port()
    argv = [PYTHON, "-m", "bench.bare", "--port", str(port), "--api", api_url]
    if view is not None:
        argv += ["--view", str(view)]
    if store is not None:
        argv += ["--store", store]
    return start_process("kale-bolt-opslag" if store else "kale-bolt", argv, port, folder)


# --- statistics -------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def spread(ratios: Sequence[float]) -> str:
    """min–max and the interquartile range of per-repetition ratios."""
    ratios = [r for r in ratios if not math.isnan(r)]
    if not ratios:
        return "-"
    text = f"min {min(ratios):.2f} max {max(ratios):.2f}"
    if len(ratios) >= 2:
        q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
        text += f" IQR {q1:.2f}–{q3:.2f}"
    return text


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


# --- the summary ------------------------------------------------------------------------------


@dataclass
class Figure:
    what: str
    value: str  # absolute values, as printed
    ratio: float  # against the floor
    against: str  # what the ratio is against
    goal: str
    ok: bool | None


FIGURES: list[Figure] = []


def figure(what: str, value: str, ratio_value: float, against: str, goal: str,
           ok: bool | None = None) -> None:
    FIGURES.append(Figure(what, value, ratio_value, against, goal, ok))
    verdict = "" if ok is None else ("  ok" if ok else "  NIET gehaald")
    print(f"  {what}: {value}; {ratio_value:.2f}× {against} (doel {goal}){verdict}", flush=True)


def print_summary() -> None:
    print("\n=== samenvatting (verhouding tegen de vloer of de kale tegenhanger) ===")
    width = max((len(f.what) for f in FIGURES), default=10)
    for f in FIGURES:
        verdict = "" if f.ok is None else ("ok" if f.ok else "NIET")
        print(f"{f.what:<{width}}  {f.ratio:7.2f}× {f.against:<22} doel {f.goal:<10} {verdict:<4}"
              f"  {f.value}")


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"
