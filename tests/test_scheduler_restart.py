"""The real APScheduler with its SQLAlchemy job store: restarts, missed jobs, and (on
PostgreSQL) the leader lock. The scheduler is driven explicitly: the dispatch job runs at
start-up and on `run_soon`; the test clock decides what is due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.scheduler import BotScheduler, start_scheduler
from bot.settings import Settings
from commands.context import Services
from commands.dispatcher import per_destination
from commands.replies import Outgoing
from store.db import make_engine, make_sessionmaker, make_sync_engine
from tests.conftest import Clock, Database
from tests.reminders_support import (
    FakeCourier,
    add_due_reminders,
    ams,
    appoint,
    deliveries_with,
    drop_jobs_table,
    new_case,
    reminders_of,
)

AMS = ZoneInfo("Europe/Amsterdam")
PG_ONLY = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


async def wait_for(condition: Callable[[], bool], seconds: float = 15) -> None:
    """Wait until the condition holds (the scheduler runs jobs in the background)."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("de verwachte toestand trad niet op")


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, REGIEBOT_DATABASE_URL=url)


async def start(services: Any, courier: FakeCourier, url: str, **options: Any) -> BotScheduler:
    options = {"dispatch_seconds": 3600, "lock_retry_seconds": 0.1, **options}
    return await start_scheduler(services, deliveries_with(courier), settings_for(url), **options)


async def test_restart_sends_a_missed_reminder_once_marked_late(
        services: Services, database: Database, clock: Clock) -> None:
    await drop_jobs_table(services)
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2026, 12, 22))
    courier = FakeCourier()
    clock.set(ams(2026, 12, 15, 8))
    bot = await start(services, courier, database.url)
    await wait_for(lambda: bot.runs["reminders.dispatch"] == 1)
    assert [s for s in courier.sent if s.template == "herinnering/termijn"] == []
    await bot.stop()

    clock.set(ams(2026, 12, 15, 13))  # the bot was down at 09:00
    bot = await start(services, courier, database.url)
    try:
        await wait_for(lambda: bot.runs["reminders.dispatch"] == 1)
        bot.run_soon("reminders.dispatch")
        await wait_for(lambda: bot.runs["reminders.dispatch"] == 2)
    finally:
        await bot.stop()
    termijn = [s for s in courier.sent if s.template == "herinnering/termijn"]
    assert sorted(s.to for s in termijn) == ["buurtteam", "dirk"]
    rows = [r for r in await reminders_of(services, case.id) if r.kind == "termijn" and r.sent_at]
    assert len(rows) == 2 and all(r.late for r in rows)


async def test_jobs_missed_while_down_run_once(
        services: Services, database: Database, clock: Clock) -> None:
    await drop_jobs_table(services)
    bot = await start(services, FakeCourier(), database.url)
    await wait_for(lambda: bot.runs["reminders.dispatch"] == 1)
    await bot.stop()

    # downtime: move the stored next run times into the past, as if days went by
    store = AsyncIOScheduler(jobstores={"default": SQLAlchemyJobStore(
        engine=make_sync_engine(database.url))}, timezone=AMS)
    store.start(paused=True)
    now = datetime.now(AMS)
    assert {job.id for job in store.get_jobs()} == {
        "agenda.oost", "agenda.west", "digest.weekly", "reminders.refresh", "reminders.dispatch",
        "retention.daily", "stemoproep.oost", "stemoproep.west"}
    store.modify_job("reminders.refresh", next_run_time=now - timedelta(days=5))  # 5 runs missed
    store.modify_job("agenda.oost", next_run_time=now - timedelta(hours=2))
    store.modify_job("reminders.dispatch", next_run_time=now - timedelta(hours=3))
    store.shutdown(wait=False)

    bot = await start(services, FakeCourier(), database.url)
    try:
        await wait_for(lambda: bot.runs["reminders.refresh"] >= 1 and bot.runs["agenda.oost"] >= 1
                       and bot.runs["reminders.dispatch"] >= 1)
        # each missed job is due next in the future: no second catch-up run can follow
        assert bot.scheduler is not None
        assert all(bot.scheduler.get_job(job).next_run_time > now
                   for job in ("reminders.refresh", "agenda.oost", "reminders.dispatch"))
        assert bot.runs["reminders.refresh"] == 1
        assert bot.runs["agenda.oost"] == 1
        assert bot.runs["reminders.dispatch"] == 1
    finally:
        await bot.stop()


@PG_ONLY
async def test_only_the_leader_runs_jobs_and_the_other_takes_over(
        services: Services, database: Database, clock: Clock) -> None:
    await drop_jobs_table(services)
    engine = make_engine(database.url)
    other = replace(services, sessions=make_sessionmaker(engine))
    first, second = FakeCourier(), FakeCourier()
    a = await start(services, first, database.url, name="a")
    b = await start(other, second, database.url, name="b")
    try:
        assert a.is_leader and not b.is_leader
        await wait_for(lambda: a.runs["reminders.dispatch"] == 1)
        await add_due_reminders(services, 30, ams(2026, 11, 24, 7, 30), prefix="voor")
        a.run_soon("reminders.dispatch")
        await wait_for(lambda: a.runs["reminders.dispatch"] == 2)  # sent and recorded
        assert len(first.sent) == 30
        tried = b.lock_attempts  # the follower asks for the lock twice more, is refused, sends nothing
        await wait_for(lambda: b.lock_attempts >= tried + 2)
        assert not b.is_leader and sum(b.runs.values()) == 0 and second.sent == []

        await a.stop()
        await wait_for(lambda: b.is_leader and b.runs["reminders.dispatch"] == 1)
        await add_due_reminders(services, 10, ams(2026, 11, 24, 7, 45), prefix="na")
        b.run_soon("reminders.dispatch")
        await wait_for(lambda: b.runs["reminders.dispatch"] == 2)  # sent and recorded
        assert len(second.sent) == 10
        assert len(first.sent) == 30
        rows = await reminders_of(services)
        assert len(rows) == 40 and all(r.sent_at and r.attempts == 1 for r in rows)
    finally:
        await a.stop()
        await b.stop()
        await engine.dispose()


@PG_ONLY
async def test_two_running_schedulers_send_each_reminder_once(
        services: Services, database: Database, clock: Clock) -> None:
    """Even with the leader lock out of the picture (two dispatch loops at once), the atomic
    claim sends every reminder exactly once."""
    await drop_jobs_table(services)
    engine = make_engine(database.url)
    other = replace(services, sessions=make_sessionmaker(engine))
    first, second = FakeCourier(), FakeCourier()
    a = await start(services, first, database.url, name="a")
    b = await start(other, second, database.url, name="b")
    try:
        await add_due_reminders(services, 200, ams(2026, 11, 24, 7, 30))
        await asyncio.gather(a.dispatch(), b.dispatch(), a.dispatch())
        assert len(first.sent) + len(second.sent) == 200
        assert len({s.item.message.data["bestemming"] for s in first.sent}) == 1
    finally:
        await a.stop()
        await b.stop()
        await engine.dispose()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_agenda_and_digest_jobs_post_through_the_deliveries(
        services: Services, database: Database, clock: Clock) -> None:
    await drop_jobs_table(services)
    await new_case(services)
    courier = FakeCourier()
    bot = await start(services, courier, database.url)
    try:
        await wait_for(lambda: bot.runs["reminders.dispatch"] == 1)
        bot.run_soon("agenda.oost")
        bot.run_soon("digest.weekly")
        await wait_for(lambda: bot.runs["agenda.oost"] == 1 and bot.runs["digest.weekly"] == 1)
    finally:
        await bot.stop()
    assert ("regieteam", "oost") in {(s.kind, s.to) for s in courier.sent}
    assert ("member", "joost") in {(s.kind, s.to) for s in courier.sent}


@PG_ONLY
async def test_a_leader_that_loses_its_connection_steps_down(
        services: Services, database: Database, clock: Clock) -> None:
    """A crashed leader (its lock connection gone) is replaced; it does not run jobs again."""
    await drop_jobs_table(services)
    engine = make_engine(database.url)
    other = replace(services, sessions=make_sessionmaker(engine))
    a = await start(services, FakeCourier(), database.url, name="a")
    b = await start(other, FakeCourier(), database.url, name="b")
    try:
        assert a.is_leader and a._lock_conn is not None
        backend = a._lock_conn.info.backend_pid
        async with await psycopg.AsyncConnection.connect(
                database.url, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        await wait_for(lambda: b.is_leader and not a.is_leader)
        tried = a.lock_attempts  # a keeps trying, but b holds the lock
        await wait_for(lambda: a.lock_attempts >= tried + 2)
        assert b.is_leader and not a.is_leader
    finally:
        await a.stop()
        await b.stop()
        await engine.dispose()


async def test_old_delivery_bookkeeping_is_forgotten(services: Services) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from store.models import ProcessedRequest
    from store.retention import forget_old_deliveries

    now = services.now()
    async with services.transaction() as session:
        session.add_all([ProcessedRequest(key="slack:event:old", at=now - timedelta(days=31)),
                         ProcessedRequest(key="slack:event:new", at=now - timedelta(days=1))])
    async with services.transaction() as session:
        assert await forget_old_deliveries(session, now) == 1
        keys = (await session.scalars(select(ProcessedRequest.key))).all()
    assert keys == ["slack:event:new"]


async def test_missed_rows_of_one_series_arrive_as_one_message(services: Services) -> None:
    from sqlalchemy import select

    from commands.reminders import SUPERSEDED, dispatch_due
    from store.models import Reminder

    now = services.now()
    async with services.transaction() as session:
        session.add_all([
            Reminder(dedupe_key=f"mbz:test:{n}", kind="mbz", target_partner_id="mbz",
                     due_at=now - timedelta(days=days), payload={})
            for n, days in enumerate((9, 6, 3))
        ])
    courier = FakeCourier()
    sent = await dispatch_due(services, deliveries_with(courier), "test")
    assert sent == 1 and len(courier.sent) == 1
    async with services.transaction() as session:
        reasons = (await session.scalars(select(Reminder.cancel_reason).order_by(Reminder.due_at))).all()
    assert reasons[:2] == [SUPERSEDED, SUPERSEDED]


async def test_vote_reminder_job_writes_to_members_who_did_not_vote(
        services: Services, database: Database, clock: Clock) -> None:
    from commands import agenda, stemmen
    from tests.conftest import member

    await drop_jobs_table(services)
    clock.set(datetime(2026, 11, 19, 9, 0, tzinfo=AMS))
    ref = (await new_case(services)).reference
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    await stemmen.cast_vote(services, member(services.org, "carla"), ref, "q1", "ja")
    clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=AMS))
    courier = FakeCourier()
    bot = await start(services, courier, database.url)
    try:
        await wait_for(lambda: bot.runs["reminders.dispatch"] == 1)
        bot.run_soon("stemoproep.oost")
        await wait_for(lambda: bot.runs["stemoproep.oost"] == 1)
    finally:
        await bot.stop()
    assert {s.to for s in courier.sent if s.kind == "member"} == {"dirk", "eva", "fatima"}


def test_vote_reminder_trigger_is_hours_before_the_meeting(services: Services) -> None:
    from bot.scheduler import vote_reminder_trigger

    trigger = vote_reminder_trigger(services.org, "oost", AMS)  # Tuesday 10:00
    assert trigger is not None
    fields = {f.name: str(f) for f in trigger.fields}
    assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("1", "8", "0")


@dataclass
class HangingCourier(FakeCourier):
    """A platform that takes the first message and then never answers."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def deliver(self, item: Outgoing) -> None:
        self.entered.set()
        await asyncio.Event().wait()


async def test_a_stop_ends_a_hanging_send_quietly_and_frees_the_rest(
        services: Services, database: Database, clock: Clock,
        caplog: pytest.LogCaptureFixture) -> None:
    """A platform that does not answer holds up a stop only for the drain time; the job that
    was sending is ended with a warning, not logged as an error, and what it had claimed is
    free for the next start."""
    await drop_jobs_table(services)
    courier = HangingCourier()
    bot = await start(services, courier, database.url, drain_seconds=0.05)
    await add_due_reminders(services, 5, ams(2026, 11, 24, 7, 30))
    running = asyncio.create_task(bot.run_job("reminders.dispatch", bot.dispatch))
    await courier.entered.wait()
    with caplog.at_level(logging.WARNING):
        await bot.stop()
        await running
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "afgebroken bij het stoppen" in caplog.text
    rows = await reminders_of(services)
    assert len(rows) == 5 and all(r.sent_at is None and r.claimed_by is None for r in rows)


async def test_a_stopping_worker_stops_before_its_next_item() -> None:
    """Each destination's worker checks before every item, so a long (paced) queue does not
    hold up a stop; the untried items go back in their order."""
    sent: list[str] = []
    handed_back: list[list[str]] = []
    stop = False

    async def send(item: str) -> bool:
        nonlocal stop
        sent.append(item)
        stop = item == "a2"  # the stop comes while a2 is being sent
        return True

    async def untried(items: list[str]) -> None:
        handed_back.append(items)

    await per_destination(["a1", "a2", "a3", "a4", "b1"], lambda item: item[0], send,
                          after_failure=untried, should_stop=lambda: stop, workers=1)
    assert sent == ["a1", "a2"]
    assert handed_back == [["a3", "a4"], ["b1"]]
