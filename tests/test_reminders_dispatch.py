"""The dispatcher: atomic claims, retries with backoff, reports after repeated failure, late
marking, and `regiebot reminders list`. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

from bot.cli import list_reminders
from commands.context import Services
from commands.reminders import MAX_ATTEMPTS, backoff, dispatch_due
from commands.replies import Outgoing
from store.db import make_engine, make_sessionmaker
from tests.conftest import Clock, Database
from tests.reminders_support import (
    FakeCourier,
    add_due_reminders,
    ams,
    appoint,
    deliveries_with,
    new_case,
    reminders_of,
    update_case,
)


async def test_a_failing_platform_gets_the_reminder_once_after_recovery(
        services: Services, clock: Clock) -> None:
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2026, 12, 22))
    courier = FakeCourier(down=True)
    deliveries = deliveries_with(courier)
    clock.set(ams(2026, 12, 15, 9))
    assert await dispatch_due(services, deliveries, "w") == 0
    rows = [r for r in await reminders_of(services, case.id) if r.kind == "termijn"]
    assert all(r.attempts == 1 and r.next_attempt_at and r.sent_at is None for r in rows)
    assert all(r.last_error and "503" in r.last_error for r in rows)
    # before the backoff has passed nothing is tried again
    clock.advance(seconds=30)
    attempts = courier.attempts
    assert await dispatch_due(services, deliveries, "w") == 0
    assert courier.attempts == attempts
    for tries in range(2, 4):
        clock.advance(seconds=backoff(tries - 1).total_seconds())
        assert await dispatch_due(services, deliveries, "w") == 0
    courier.down = False
    clock.advance(hours=1)
    assert await dispatch_due(services, deliveries, "w") == 2
    assert await dispatch_due(services, deliveries, "w") == 0
    assert Counter(s.to for s in courier.sent) == {"dirk": 1, "buurtteam": 1}
    rows = [r for r in await reminders_of(services, case.id) if r.kind == "termijn" and r.sent_at]
    assert len(rows) == 2
    assert all(r.attempts == 4 and r.late and r.failed_at is None for r in rows)


async def test_repeated_failure_is_reported_to_the_coordinator(
        services: Services, clock: Clock) -> None:
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2026, 12, 22))
    courier = FakeCourier(unreachable={"buurtteam"})
    deliveries = deliveries_with(courier)
    clock.set(ams(2026, 12, 15, 9))
    for _ in range(MAX_ATTEMPTS):
        await dispatch_due(services, deliveries, "w")
        clock.advance(hours=1)
    rows = await reminders_of(services, case.id)
    [failed] = [r for r in rows if r.failed_at]
    assert failed.target_partner_id == "buurtteam" and failed.attempts == MAX_ATTEMPTS
    reports = [s for s in courier.sent if s.template == "herinnering/bezorging_mislukt"]
    assert [s.to for s in reports] == ["joost"]
    assert case.reference in reports[0].text and "Buurtteam" in reports[0].text
    attempts = courier.attempts
    clock.advance(days=1)
    await dispatch_due(services, deliveries, "w")
    assert courier.attempts == attempts  # a failed reminder is not tried again by itself


async def test_two_dispatchers_send_every_reminder_exactly_once(
        services: Services, database: Database, clock: Clock) -> None:
    due = ams(2026, 11, 24, 7)
    await add_due_reminders(services, 120, due)
    engine = make_engine(database.url)
    other = replace(services, sessions=make_sessionmaker(engine))
    try:
        first, second = FakeCourier(), FakeCourier()

        class Slow(FakeCourier):
            async def deliver(self, item: Outgoing) -> None:
                await asyncio.sleep(0)
                await super().deliver(item)

        first, second = Slow(), Slow()
        counts = await asyncio.gather(
            dispatch_due(services, deliveries_with(first), "a", batch=7),
            dispatch_due(other, deliveries_with(second), "b", batch=7),
        )
    finally:
        await engine.dispose()
    assert sum(counts) == 120
    assert len(first.sent) + len(second.sent) == 120
    rows = await reminders_of(services)
    assert all(r.sent_at and r.attempts == 1 and not r.late for r in rows)
    assert {r.claimed_by for r in rows} <= {"a", "b", None}


async def test_a_reminder_due_long_ago_is_marked_late(services: Services, clock: Clock) -> None:
    await add_due_reminders(services, 1, ams(2026, 11, 24, 7, 30), prefix="recent")
    await add_due_reminders(services, 1, ams(2026, 11, 24, 6), prefix="old")
    courier = FakeCourier()
    assert await dispatch_due(services, deliveries_with(courier), "w") == 2
    late = {r.dedupe_key: r.late for r in await reminders_of(services)}
    assert late == {"recent:0": False, "old:0": True}


async def test_list_reminders_shows_plain_lines_without_personal_data(
        services: Services, clock: Clock) -> None:
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2026, 12, 22))
    lines = await list_reminders(services, due_only=False)
    assert any(case.reference in line and "termijn" in line and "Dirk Visser" in line
               for line in lines)
    assert not any("Jan Fictief" in line for line in lines)
    assert await list_reminders(services, due_only=True) == [
        "Er staan nu geen herinneringen klaar om te versturen."]
    clock.set(ams(2026, 12, 15, 9) + timedelta(minutes=1))
    due = await list_reminders(services, due_only=True)
    assert len(due) == 2 and all("nu te versturen" in line for line in due)


async def test_dispatch_and_a_command_on_the_same_cases_at_once(
        services: Services, database: Database, clock: Clock) -> None:
    """The dispatcher adds the next reminder of a series while a command syncs the same case:
    no duplicate row, no deadlock, every reminder sent once."""
    cases = [await new_case(services) for _ in range(6)]
    for case in cases:
        await appoint(services, case.id, termijn=date(2026, 12, 22))
    engine = make_engine(database.url)
    other = replace(services, sessions=make_sessionmaker(engine))
    courier = FakeCourier()
    clock.set(ams(2026, 12, 22, 9))
    try:
        await asyncio.gather(
            dispatch_due(services, deliveries_with(courier), "w", batch=4),
            *(update_case(other, case.id, terugkoppeling_weeks=4) for case in cases),
        )
    finally:
        await engine.dispose()
    assert await dispatch_due(services, deliveries_with(courier), "w") == 0
    sent = Counter((s.to, s.template, s.item.update_key) for s in courier.sent)
    assert all(count == 1 for count in sent.values())
    keys = [r.dedupe_key for r in await reminders_of(services)]
    assert len(keys) == len(set(keys))


class BusyJoost(FakeCourier):
    """Joost's chat takes its messages only once every other chat has had its own."""

    def __init__(self, others: int) -> None:
        super().__init__()
        self.others = others
        self.others_done = asyncio.Event()

    async def deliver(self, item: Outgoing) -> None:
        if item.to.id == "joost":
            await self.others_done.wait()
        await super().deliver(item)
        if len([s for s in self.sent if s.to != "joost"]) == self.others:
            self.others_done.set()


async def test_a_chat_with_most_reminders_does_not_hold_up_the_others(
        services: Services, clock: Clock) -> None:
    """The first claim takes a few of each destination, and a destination's worker claims
    its own next ones: the other chats are served while Joost's is busy, and one dispatch
    sends all."""
    clock.set(ams(2026, 12, 15, 9))
    await add_due_reminders(services, 30, ams(2026, 12, 15, 8), prefix="veel")
    for member in ("dirk", "anna", "carla"):
        await add_due_reminders(services, 1, ams(2026, 12, 15, 8, 30), prefix=member,
                                member=member)
    courier = BusyJoost(others=3)
    sent = await asyncio.wait_for(  # a guard against a hang, not a measure of speed
        dispatch_due(services, deliveries_with(courier), "w", batch=10), 120)
    assert sent == 33 and len(courier.to("joost")) == 30
    assert all(r.sent_at is not None and r.claimed_at is None for r in await reminders_of(services))
