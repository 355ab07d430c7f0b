"""After downtime: one message per series, marked late; claims of a crashed worker are freed.

The bot was stopped for three weeks of clock time. At start-up every series (termijn,
terugkoppeling) sends one message to each of its targets, stating the latest due moment and
that it comes late — never the missed occurrences one by one, and never backwards.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date

import pytest
from sqlalchemy import select

from bot.scheduler import start_scheduler
from bot.settings import Settings
from commands.context import Services
from commands.reminders import dispatch_due, sync_open_cases
from commands.replies import Outgoing
from store.models import Reminder
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


async def catch_up(services: Services, courier: FakeCourier, rounds: int = 4) -> int:
    """What a restarted bot does: the daily refresh, then dispatch runs, a few times over."""
    sent = 0
    for _ in range(rounds):
        await sync_open_cases(services)
        sent += await dispatch_due(services, deliveries_with(courier), "na-herstart")
    return sent


async def test_three_weeks_down_sends_one_late_message_per_series(
        services: Services, clock: Clock) -> None:
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2026, 12, 1), weeks=1,
                  next_terugkoppeling=date(2026, 11, 26))
    clock.set(ams(2026, 12, 22, 13))  # down since 24 november
    courier = FakeCourier()
    assert await catch_up(services, courier) == len(courier.sent)
    per_target = Counter((s.template, s.to) for s in courier.sent)
    assert per_target and set(per_target.values()) == {1}, per_target
    assert {t for t, _ in per_target} == {"herinnering/termijn", "herinnering/terugkoppeling"}
    for sent in courier.sent:
        assert "later dan gepland" in sent.text, sent.text
        assert "Vandaag" not in sent.text
    rows = [r for r in await reminders_of(services, case.id) if r.sent_at is not None]
    assert rows and all(r.late for r in rows)
    # the latest missed occurrence of each series is the one that was sent
    termijn = [r for r in rows if r.kind == "termijn"]
    assert {r.payload["n"] for r in termijn} == {max(r.payload["n"] for r in termijn)}
    assert all(r.claimed_at is None for r in await reminders_of(services, case.id))


async def test_a_late_termijn_does_not_say_today(services: Services, clock: Clock) -> None:
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2026, 11, 26))
    clock.set(ams(2026, 12, 1, 13))
    courier = FakeCourier()
    await catch_up(services, courier, rounds=1)
    texts = [s.text for s in courier.sent if s.template == "herinnering/termijn"]
    assert texts and all("liep af op donderdag 26 november 2026" in t for t in texts), texts
    assert not any("Vandaag" in t for t in texts)


async def test_a_reminder_whose_moment_has_come_is_not_moved_later(
        services: Services, clock: Clock) -> None:
    """A reminder that is due (its moment was set earlier, e.g. under other send times) is
    sent, not pushed back by the next refresh."""
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2026, 12, 22))
    clock.set(ams(2026, 12, 14, 12))
    async with services.transaction() as session:
        due = await session.scalars(select(Reminder).where(
            Reminder.case_id == case.id, Reminder.kind == "termijn", Reminder.sent_at.is_(None)))
        for row in due:
            assert row.due_at.replace(tzinfo=row.due_at.tzinfo or UTC) > clock()
            row.due_at = ams(2026, 12, 14, 9)
    courier = FakeCourier()
    assert await catch_up(services, courier, rounds=1) > 0
    assert {s.template for s in courier.sent} == {"herinnering/termijn"}


class CrashingCourier(FakeCourier):
    """Dies in the middle of a batch, as a process killed with SIGKILL would."""

    async def deliver(self, item: Outgoing) -> None:
        if len(self.sent) == 2:
            raise asyncio.CancelledError
        await super().deliver(item)


async def test_claims_of_a_crashed_worker_go_out_at_start_up(
        services: Services, database: Database, clock: Clock) -> None:
    await drop_jobs_table(services)
    await add_due_reminders(services, 5, ams(2026, 11, 24, 7, 30))
    crashing = CrashingCourier()
    with pytest.raises(asyncio.CancelledError):
        await dispatch_due(services, deliveries_with(crashing), "gestopt")
    rows = await reminders_of(services)
    assert sum(r.sent_at is not None for r in rows) == 2  # recorded as soon as each was sent
    assert sum(r.claimed_by == "gestopt" and r.sent_at is None for r in rows) == 3

    courier = FakeCourier()
    settings = Settings(_env_file=None, REGIEBOT_DATABASE_URL=database.url)
    bot = await start_scheduler(services, deliveries_with(courier), settings,
                                dispatch_seconds=3600, lock_retry_seconds=0.1)
    try:
        for _ in range(750):  # the dispatch job runs at start-up
            if bot.runs["reminders.dispatch"] >= 1:
                break
            await asyncio.sleep(0.02)
    finally:
        await bot.stop()
    assert len(courier.sent) == 3
    rows = await reminders_of(services)
    assert all(r.sent_at is not None and r.claimed_at is None for r in rows)
