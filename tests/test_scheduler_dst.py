"""Clock jobs stay at local time across the clock changes of 29 March and 25 October 2026."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as Time
from typing import Any
from zoneinfo import ZoneInfo

from bot.scheduler import agenda_grace_seconds, agenda_trigger, outside_night, weekly_trigger
from commands.organisation import Organisation

AMS = ZoneInfo("Europe/Amsterdam")
UTC = ZoneInfo("UTC")


def fire_times(trigger: Any, start: datetime, count: int) -> list[datetime]:
    times: list[datetime] = []
    previous, now = None, start
    for _ in range(count):
        moment = trigger.get_next_fire_time(previous, now)
        times.append(moment)
        previous, now = moment, moment + timedelta(seconds=1)
    return times


def test_agenda_cutoff_monday_noon_across_both_clock_changes(org: Organisation) -> None:
    trigger = agenda_trigger(org, "oost", AMS)  # meeting Tuesday 10:00, cut-off the day before
    spring = fire_times(trigger, datetime(2026, 3, 20, tzinfo=AMS), 3)
    assert [t.astimezone(AMS).strftime("%a %d %H:%M") for t in spring] == [
        "Mon 23 12:00", "Mon 30 12:00", "Mon 06 12:00"]
    assert [t.astimezone(UTC).hour for t in spring] == [11, 10, 10]
    autumn = fire_times(trigger, datetime(2026, 10, 16, tzinfo=AMS), 3)
    assert [t.astimezone(AMS).strftime("%a %d %H:%M") for t in autumn] == [
        "Mon 19 12:00", "Mon 26 12:00", "Mon 02 12:00"]
    assert [t.astimezone(UTC).hour for t in autumn] == [10, 11, 11]


def test_second_regieteam_has_its_own_cutoff(org: Organisation) -> None:
    trigger = agenda_trigger(org, "west", AMS)  # meeting Thursday 13:30 → Wednesday 12:00
    [first] = fire_times(trigger, datetime(2026, 3, 27, tzinfo=AMS), 1)
    assert first.astimezone(AMS).strftime("%a %d %H:%M") == "Wed 01 12:00"
    # missed while down: it still runs until the meeting starts
    assert agenda_grace_seconds(org, "west") == 25 * 3600 + 30 * 60


def test_weekly_ten_oclock_stays_ten_oclock(org: Organisation) -> None:
    trigger = weekly_trigger(6, Time(10, 0), AMS)  # Sundays: 29 March and 25 October themselves
    times = fire_times(trigger, datetime(2026, 3, 21, tzinfo=AMS), 3)
    times += fire_times(trigger, datetime(2026, 10, 17, tzinfo=AMS), 3)
    assert {t.astimezone(AMS).time() for t in times} == {Time(10, 0)}
    assert [t.astimezone(AMS).day for t in times] == [22, 29, 5, 18, 25, 1]
    assert len({t.astimezone(UTC).hour for t in times}) == 2  # 09:00 and 08:00 UTC


def test_nothing_is_scheduled_between_two_and_three(org: Organisation) -> None:
    assert outside_night(Time(2, 30)) == Time(3, 0)
    assert outside_night(Time(1, 59)) == Time(1, 59)
    trigger = weekly_trigger(6, Time(2, 30), AMS)
    times = fire_times(trigger, datetime(2026, 10, 18, tzinfo=AMS), 3)
    assert [t.astimezone(AMS).strftime("%d %H:%M") for t in times] == [
        "18 03:00", "25 03:00", "01 03:00"]
