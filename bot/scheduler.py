"""The scheduler: APScheduler 3.11 drives the weekly agenda, the reminder dispatch, the weekly
digest, the daily retention clean-up and a daily refresh of reminder rows.

This module holds only the triggers, the jobs (functions that call a use case in `commands/`)
and the leader lock. The reminder dispatch itself is `commands.reminders.dispatch`.

- One `AsyncIOScheduler` in the bot process, timezone from settings, jobs persisted with a
  `SQLAlchemyJobStore` in the bot's own database (sync URL).
- Jobs are pickled, so job functions are module-level without arguments other than plain
  values; they find the running `BotScheduler` (services, deliveries) in a module-level
  registry. Every job has a fixed id.
- A job missed while the bot was down runs once at start-up (coalesce, misfire grace);
  the dispatch job always runs at once at start-up, so reminders due during the downtime go
  out then (marked late).
- Nothing is scheduled on the clock between 02:00 and 03:00 (the October change repeats that
  hour); the dispatch runs on an interval, which does not depend on the wall clock.
- PostgreSQL: only the process holding a session-level advisory lock (on a connection kept
  open) runs jobs; the others retry the lock and take over when the leader stops. SQLite is
  single-process: no lock. Reminder rows are claimed atomically in any case
  (`commands.reminders.dispatch`), so even two dispatchers never send one reminder twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from datetime import time as Time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from bot.delivery import Deliveries, worker_id
from bot.settings import Settings
from commands import outbox
from commands.agenda import scheduled_agenda
from commands.context import Services
from commands.digest import weekly_digest
from commands.organisation import Organisation
from commands.privacy import apply_retention
from commands.reminders import (
    dispatch_due,
    release_claims,
    release_claims_of_others,
    sync_open_cases,
)
from commands.stemoproep import remind_non_voters
from store.db import is_sqlite, make_sync_engine
from store.retention import forget_old_deliveries

if TYPE_CHECKING:  # psycopg only for the leader lock on PostgreSQL, imported there
    import psycopg

log = logging.getLogger(__name__)

LOCK_KEY = 0x52656769  # "Regi": the advisory lock of the scheduler leader
DIGEST_AT = (0, Time(8, 0))  # Monday 08:00
REFRESH_AT = Time(6, 0)
RETENTION_AT = Time(4, 0)
NIGHT = (Time(2, 0), Time(3, 0))  # nothing on the clock in this hour


# --- triggers --------------------------------------------------------------------------------


def outside_night(moment: Time) -> Time:
    """Clock jobs never run between 02:00 and 03:00 (the October hour that happens twice)."""
    if NIGHT[0] <= moment < NIGHT[1]:
        log.warning("tijd %s valt tussen 02:00 en 03:00; de taak draait om 03:00", moment)
        return NIGHT[1]
    return moment


def weekly_trigger(weekday: int, moment: Time, tz: ZoneInfo) -> CronTrigger:
    moment = outside_night(moment)
    return CronTrigger(day_of_week=weekday, hour=moment.hour, minute=moment.minute, timezone=tz)


def agenda_trigger(org: Organisation, regieteam_id: str, tz: ZoneInfo) -> CronTrigger:
    """The agenda cut-off of a Regieteam: e.g. Monday 12:00 for a Tuesday meeting."""
    team, cutoff = org.regieteam(regieteam_id), org.agenda_cutoff(regieteam_id)
    return weekly_trigger((team.meeting.weekday - cutoff.days_before) % 7, cutoff.time, tz)


def agenda_grace_seconds(org: Organisation, regieteam_id: str) -> int:
    """A missed agenda job still runs when the bot comes back before the meeting starts."""
    team, cutoff = org.regieteam(regieteam_id), org.agenda_cutoff(regieteam_id)
    gap = timedelta(days=cutoff.days_before) + (
        datetime.combine(date.min, team.meeting.time) - datetime.combine(date.min, cutoff.time))
    return max(3600, int(gap.total_seconds()))


def vote_reminder_trigger(org: Organisation, regieteam_id: str, tz: ZoneInfo) -> CronTrigger | None:
    """A set number of hours before the meeting (default 2), for members who did not vote."""
    hours = org.rules.reminders.vote_reminder_hours_before
    if not hours:
        return None
    meeting = org.regieteam(regieteam_id).meeting
    monday = date(2024, 1, 1)  # any Monday: only the weekday and the time matter
    moment = datetime.combine(monday + timedelta(days=meeting.weekday), meeting.time)
    moment -= timedelta(hours=hours)
    return weekly_trigger(moment.weekday(), moment.time(), tz)


# --- jobs (module level, pickled by reference) -----------------------------------------------

_INSTANCES: dict[str, BotScheduler] = {}
_CURRENT: ContextVar[str | None] = ContextVar("regiebot_scheduler", default=None)


def _running() -> BotScheduler:
    name = _CURRENT.get()
    if name is not None and name in _INSTANCES:
        return _INSTANCES[name]
    if len(_INSTANCES) == 1:
        return next(iter(_INSTANCES.values()))
    raise RuntimeError("geen actieve scheduler gevonden voor deze taak")


async def dispatch_job() -> None:
    bot = _running()
    await bot.run_job("reminders.dispatch", bot.dispatch)


async def agenda_job(regieteam_id: str) -> None:
    bot = _running()
    await bot.run_job(f"agenda.{regieteam_id}", lambda: bot.post_agenda(regieteam_id))


async def vote_reminder_job(regieteam_id: str) -> None:
    bot = _running()
    await bot.run_job(f"stemoproep.{regieteam_id}", lambda: bot.remind_non_voters(regieteam_id))


async def digest_job() -> None:
    bot = _running()
    await bot.run_job("digest.weekly", bot.post_digest)


async def refresh_job() -> None:
    bot = _running()
    await bot.run_job("reminders.refresh", lambda: sync_open_cases(bot.services))


async def retention_job() -> None:
    bot = _running()
    await bot.run_job("retention.daily", bot.retention)


class _BoundExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """Runs coroutine jobs in the loop with the owning BotScheduler's name in context."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._bot_name = name

    def _do_submit_job(self, job: Any, run_times: Any) -> None:
        token = _CURRENT.set(self._bot_name)
        try:
            super()._do_submit_job(job, run_times)
        finally:
            _CURRENT.reset(token)


# --- the scheduler ---------------------------------------------------------------------------


def _libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class BotScheduler:
    """The bot's scheduler. `start()` takes part in the leader election; `stop()` ends it."""

    def __init__(
        self, services: Services, deliveries: Deliveries, settings: Settings, *,
        dispatch_seconds: float = 60, lock_retry_seconds: float = 15, name: str | None = None,
        drain_seconds: float = 60,
    ) -> None:
        self.services, self.deliveries, self.settings = services, deliveries, settings
        self.worker_id = worker_id()
        self.name = name or self.worker_id
        self.timezone = ZoneInfo(settings.timezone)
        self.dispatch_seconds, self.lock_retry_seconds = dispatch_seconds, lock_retry_seconds
        self.uses_lock = not is_sqlite(settings.database_url)
        self.is_leader = False
        self.runs: Counter[str] = Counter()  # job id → runs finished, the scheduler's records too
        self.lock_attempts = 0  # times this process asked for the leader's lock and was answered
        self.last_run: dict[str, datetime] = {}  # job id → when it last finished (health check)
        self.drain_seconds = drain_seconds
        self.scheduler: AsyncIOScheduler | None = None
        self._lock_conn: psycopg.AsyncConnection[Any] | None = None
        self._lock_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._draining = False  # set while jobs stop: a running dispatch ends after its send
        self._in_flight: set[asyncio.Task[Any]] = set()

    # --- life cycle
    async def start(self) -> BotScheduler:
        _INSTANCES[self.name] = self
        if not self.uses_lock:
            await self._become_leader()
            return self
        await self._try_to_lead()
        self._lock_task = asyncio.create_task(self._leader_loop(), name=f"leader:{self.name}")
        return self

    async def stop(self) -> None:
        self._stopping.set()
        if self._lock_task is not None:
            self._lock_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lock_task
        await self._stop_jobs()
        await self._release_lock()
        _INSTANCES.pop(self.name, None)

    async def _leader_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.lock_retry_seconds)
            if self._stopping.is_set():
                break
            try:
                if self.is_leader:
                    if not await self._lock_alive():
                        log.warning("scheduler %s: leiderschap verloren", self.name)
                        await self._stop_jobs()
                        await self._release_lock()
                else:
                    await self._try_to_lead()
            except Exception:
                log.exception("scheduler %s: fout in de leidersverkiezing", self.name)

    async def _try_to_lead(self) -> None:
        if await self._acquire_lock():
            log.info("scheduler %s is nu de leider", self.name)
            await self._become_leader()

    async def _acquire_lock(self) -> bool:
        import psycopg

        try:
            if self._lock_conn is None or self._lock_conn.closed:
                self._lock_conn = await psycopg.AsyncConnection.connect(
                    _libpq_url(self.settings.database_url), autocommit=True,
                    application_name="regiebot-scheduler")
            cursor = await self._lock_conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
            row = await cursor.fetchone()
            self.lock_attempts += 1
            return bool(row and row[0])
        except psycopg.Error as exc:
            log.warning("scheduler %s: lock niet te krijgen (%s)", self.name, type(exc).__name__)
            await self._release_lock()
            return False

    async def _lock_alive(self) -> bool:
        import psycopg

        if self._lock_conn is None or self._lock_conn.closed:
            return False
        try:
            await self._lock_conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    async def _release_lock(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is None or conn.closed:
            return
        import psycopg

        with contextlib.suppress(psycopg.Error):
            await conn.close()

    async def _become_leader(self) -> None:
        engine = make_sync_engine(self.settings.database_url)
        jobstore = SQLAlchemyJobStore(engine=engine)
        # The job store is synchronous. Its table and the jobs are written from a worker
        # thread: on SQLite a write from the event loop's own thread would wait for a
        # transaction that itself waits for the loop (a request being handled at start-up).
        await asyncio.to_thread(jobstore.jobs_t.create, engine, True)
        scheduler = AsyncIOScheduler(
            jobstores={"default": jobstore},
            executors={"default": _BoundExecutor(self.name)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone=self.timezone,
        )
        scheduler.add_listener(self._job_finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        await release_claims_of_others(self.services, self.worker_id)
        await outbox.release_claims_of_others(self.services,
                                              (self.worker_id, self.deliveries.worker_id))
        scheduler.start(paused=True)
        await asyncio.to_thread(self._install_jobs, scheduler)
        self.scheduler, self.is_leader = scheduler, True
        scheduler.resume()

    async def _stop_jobs(self) -> None:
        scheduler, self.scheduler, self.is_leader = self.scheduler, None, False
        if scheduler is None:
            return
        scheduler.pause()
        self._draining = True
        try:
            if self._in_flight:  # let a running dispatch finish its send: no half-recorded sends
                await asyncio.wait(set(self._in_flight), timeout=self.drain_seconds)
            for task in set(self._in_flight):  # still hanging (a platform that does not answer)
                task.cancel()
            if self._in_flight:
                await asyncio.wait(set(self._in_flight), timeout=self.drain_seconds)
            await release_claims(self.services, self.worker_id)
            await outbox.release_claims(self.services, (self.worker_id, self.deliveries.worker_id))
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)
        finally:
            self._draining = False

    def _install_jobs(self, scheduler: AsyncIOScheduler) -> None:
        """Add the jobs; a job whose schedule did not change keeps its stored next run time,
        so a run missed while the bot was down still happens (once) now."""
        tz, org = self.timezone, self.services.org
        wanted: dict[str, tuple[Callable[..., Any], tuple[Any, ...], Any, int]] = {
            f"agenda.{team.id}": (agenda_job, (team.id,), agenda_trigger(org, team.id, tz),
                                  agenda_grace_seconds(org, team.id))
            for team in org.regieteams
        }
        for team in org.regieteams:
            if (trigger := vote_reminder_trigger(org, team.id, tz)) is not None:
                grace = org.rules.reminders.vote_reminder_hours_before * 3600
                wanted[f"stemoproep.{team.id}"] = (vote_reminder_job, (team.id,), trigger, grace)
        wanted["digest.weekly"] = (digest_job, (), weekly_trigger(*DIGEST_AT, tz), 24 * 3600)
        refresh = outside_night(REFRESH_AT)
        wanted["reminders.refresh"] = (
            refresh_job, (), CronTrigger(hour=refresh.hour, minute=refresh.minute, timezone=tz),
            36 * 3600)
        wanted["retention.daily"] = (
            retention_job, (), CronTrigger(hour=RETENTION_AT.hour, minute=RETENTION_AT.minute,
                                           timezone=tz), 36 * 3600)
        for job in scheduler.get_jobs():
            if job.id not in wanted and job.id != "reminders.dispatch":
                scheduler.remove_job(job.id)
        for job_id, (function, args, trigger, grace) in wanted.items():
            existing = scheduler.get_job(job_id)
            if (existing is not None and repr(existing.trigger) == repr(trigger)
                    and tuple(existing.args) == args and existing.func is function
                    and existing.misfire_grace_time == grace):
                continue
            scheduler.add_job(function, trigger, args=args, id=job_id, replace_existing=True,
                              misfire_grace_time=grace, coalesce=True, max_instances=1)
        scheduler.add_job(
            dispatch_job, IntervalTrigger(seconds=self.dispatch_seconds, timezone=tz),
            id="reminders.dispatch", replace_existing=True, misfire_grace_time=30, coalesce=True,
            max_instances=1, next_run_time=datetime.now(tz),
        )

    # --- jobs
    async def run_job(self, job_id: str, work: Callable[[], Awaitable[Any]]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await work()
        except Exception:
            log.exception("taak %s mislukt", job_id)
        except asyncio.CancelledError:
            if not self._draining:
                raise
            # the stop ended it (a platform that did not answer): its claims are released
            log.warning("taak %s afgebroken bij het stoppen", job_id)
        finally:
            self.last_run[job_id] = datetime.now(UTC)
            if task is not None:
                self._in_flight.discard(task)

    def _job_finished(self, event: JobExecutionEvent) -> None:
        """Counted once APScheduler has recorded the run, so the job may run again at once."""
        self.runs[event.job_id] += 1

    def run_soon(self, job_id: str) -> None:
        """Run a job now (tests, the CLI); only the leader has jobs."""
        if self.scheduler is not None:
            self.scheduler.modify_job(job_id, next_run_time=datetime.now(self.timezone))

    async def dispatch(self) -> int:
        """The outbox's waiting messages, then the due reminders; return how many were sent."""
        stop = lambda: self._draining  # noqa: E731
        messages = await outbox.dispatch_outbox(self.services, self.deliveries, self.worker_id,
                                                should_stop=stop)
        return messages + await dispatch_due(self.services, self.deliveries, self.worker_id,
                                             should_stop=stop)

    async def post_agenda(self, regieteam_id: str) -> None:
        """Build and post the agenda of the coming meeting (at the cut-off)."""
        items = await scheduled_agenda(self.services, regieteam_id)
        await self.deliveries.send(self.services, items)

    async def remind_non_voters(self, regieteam_id: str) -> None:
        """Before the meeting: a private note to members who have not voted yet."""
        await self.deliveries.send(self.services,
                                   await remind_non_voters(self.services, regieteam_id))

    async def forget_old_deliveries(self) -> None:
        async with self.services.transaction() as session:
            await forget_old_deliveries(session, self.services.now())
            await outbox.forget_finished(session, self.services.now())

    async def retention(self) -> None:
        """The daily clean-up: delivery bookkeeping, and household data past its retention."""
        await self.forget_old_deliveries()
        erased = await apply_retention(self.services)
        if erased:
            log.info("bewaartermijn voorbij: %d casussen gewist", len(erased))

    async def post_digest(self) -> None:
        """The weekly digest for the coordinator(s)."""
        await self.deliveries.send(self.services, await weekly_digest(self.services))


async def start_scheduler(
    services: Services, deliveries: Deliveries, settings: Settings, **options: Any
) -> BotScheduler:
    """Start the scheduler inside the running event loop. Options: dispatch_seconds,
    lock_retry_seconds, name (see BotScheduler)."""
    return await BotScheduler(services, deliveries, settings, **options).start()
