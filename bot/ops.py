"""Operability: what `/healthz` and `/metrics` report.

- Health: the database (a `SELECT 1` within a time limit), the scheduler (leader or standby,
  time since the last reminder dispatch) and each platform connection. One failing check makes
  the whole answer 503, so a container orchestrator or load balancer can act on it.
- Metrics (Prometheus, `prometheus-client`, one registry per process): reminders due, overdue,
  sent and failed, and the dispatch lag, read from the database at each scrape (so every
  replica reports the same numbers); deliveries and delivery failures per platform and a
  latency histogram of handled commands, counted in this process.

Nothing here carries personal data or secrets: checks report only names, states and the
type of an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import case, func, select, text

from bot.delivery import Courier, DeliveryFailed
from commands import outbox
from commands.context import Services
from commands.replies import Outgoing
from store.models import Reminder

if TYPE_CHECKING:
    from bot.scheduler import BotScheduler

OVERDUE_AFTER = timedelta(hours=1)  # as the scheduler's LATE_AFTER: sent later counts as late
Probe = Callable[[], Awaitable[dict[str, Any]]]
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30)


@dataclass
class Operations:
    """Health checks and metrics of one bot process."""

    services: Services
    database_timeout: float = 3.0
    scheduler: BotScheduler | None = None
    platforms: dict[str, Probe] = field(default_factory=dict)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.started = datetime.now(UTC)
        r = self.registry
        self.reminders = Gauge("regiebot_reminders", "Herinneringen per toestand (uit de database)",
                               ["state"], registry=r)
        self.dispatch_lag = Gauge(
            "regiebot_reminder_dispatch_lag_seconds",
            "Hoe lang de oudste verschuldigde, nog niet verstuurde herinnering al wacht", registry=r)
        self.since_dispatch = Gauge(
            "regiebot_scheduler_seconds_since_dispatch",
            "Seconden sinds de laatste verzendronde van herinneringen (alleen de leider)", registry=r)
        self.leader = Gauge("regiebot_scheduler_leader", "1 als dit proces de scheduler-leider is",
                            registry=r)
        self.up = Gauge("regiebot_check_up", "1 als de controle in orde is", ["check"], registry=r)
        self.deliveries = Counter("regiebot_deliveries", "Bezorgde berichten per platform",
                                  ["platform"], registry=r)
        self.delivery_failures = Counter("regiebot_delivery_failures",
                                         "Mislukte bezorgingen per platform", ["platform"], registry=r)
        self.command_seconds = Histogram(
            "regiebot_command_duration_seconds", "Verwerkingstijd van commando's en knoppen",
            ["platform", "command"], buckets=LATENCY_BUCKETS, registry=r)

    # --- health ---------------------------------------------------------------------------
    async def health(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, dict[str, Any]] = {"database": await self._database()}
        if checks["database"]["ok"]:
            checks["outbox"] = await self._outbox()
        if self.scheduler is not None:
            checks["scheduler"] = self._scheduler(self.scheduler)
        for name, probe in self.platforms.items():
            checks[name] = await self._probe(probe)
        for name, check in checks.items():
            self.up.labels(check=name).set(1 if check["ok"] else 0)
        healthy = all(check["ok"] for check in checks.values())
        return healthy, {"status": "ok" if healthy else "fout", "checks": checks}

    async def _database(self) -> dict[str, Any]:
        try:
            async with self.services.sessions() as session:
                await asyncio.wait_for(session.execute(text("SELECT 1")), self.database_timeout)
            return {"ok": True}
        except Exception as exc:  # any failure is "down"; only its type is shown
            return {"ok": False, "error": type(exc).__name__}

    async def _outbox(self) -> dict[str, Any]:
        """How many messages wait to be sent (a platform that refuses them shows here)."""
        try:
            async with self.services.sessions() as session:
                waiting = await asyncio.wait_for(outbox.waiting_count(session),
                                                 self.database_timeout)
            return {"ok": True, "waiting": waiting}
        except Exception as exc:
            return {"ok": False, "error": type(exc).__name__}

    def _scheduler(self, scheduler: BotScheduler) -> dict[str, Any]:
        role = "leader" if scheduler.is_leader else "standby"
        self.leader.set(1 if scheduler.is_leader else 0)
        if not scheduler.is_leader:
            return {"ok": True, "role": role}
        last = scheduler.last_run.get("reminders.dispatch")
        age = (datetime.now(UTC) - (last or self.started)).total_seconds()
        self.since_dispatch.set(age)
        limit = max(3 * scheduler.dispatch_seconds, 180.0)
        return {"ok": age <= limit, "role": role, "seconds_since_dispatch": round(age, 1),
                "dispatched": last is not None}

    async def _probe(self, probe: Probe) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(probe(), self.database_timeout)
        except Exception as exc:
            return {"ok": False, "error": type(exc).__name__}

    # --- metrics --------------------------------------------------------------------------
    async def refresh_reminder_figures(self) -> None:
        """Read the reminder figures from the database (every replica sees the same)."""
        now = self.services.now()
        waiting = (Reminder.sent_at.is_(None) & Reminder.cancelled_at.is_(None)
                   & Reminder.failed_at.is_(None))
        due = waiting & (Reminder.due_at <= now)
        overdue = waiting & (Reminder.due_at <= now - OVERDUE_AFTER)
        query = select(
            func.coalesce(func.sum(case((due, 1), else_=0)), 0),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
            func.count(Reminder.sent_at), func.count(Reminder.failed_at),
            func.min(case((due, Reminder.due_at), else_=None)),
        )
        try:
            async with self.services.sessions() as session:
                row = (await asyncio.wait_for(session.execute(query), self.database_timeout)).one()
        except Exception:
            self.up.labels(check="database").set(0)
            return
        self.up.labels(check="database").set(1)
        for state, value in zip(("due", "overdue", "sent", "failed"), row[:4], strict=True):
            self.reminders.labels(state=state).set(int(value))
        oldest = row[4]
        if isinstance(oldest, str):  # SQLite returns the aggregate of a CASE as text
            oldest = datetime.fromisoformat(oldest)
        lag = (now - self.services.local(oldest)).total_seconds() if oldest is not None else 0.0
        self.dispatch_lag.set(max(0.0, lag))

    def counted(self, courier: Courier) -> Courier:
        """The courier, with its deliveries and failures counted per platform."""
        return _CountedCourier(courier, self)

    def time_command(self, platform: str, command: str) -> _Timer:
        return _Timer(self.command_seconds.labels(platform=platform, command=command))


class _Timer:
    def __init__(self, histogram: Any) -> None:
        self._histogram = histogram
        self._start = 0.0

    def __enter__(self) -> _Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._histogram.observe(time.perf_counter() - self._start)


class _CountedCourier:
    def __init__(self, inner: Courier, ops: Operations) -> None:
        self.inner = inner
        self.platform = inner.platform
        self._ops = ops

    def can_reach(self, item: Outgoing) -> bool:
        return self.inner.can_reach(item)

    async def deliver(self, item: Outgoing) -> None:
        try:
            await self.inner.deliver(item)
        except DeliveryFailed:
            self._ops.delivery_failures.labels(platform=self.platform).inc()
            raise
        self._ops.deliveries.labels(platform=self.platform).inc()

    def __getattr__(self, name: str) -> Any:  # everything else is the platform's own courier
        return getattr(self.inner, name)
