"""Working days: Monday to Friday, except Dutch public holidays.

The holidays come from the maintained `holidays` package (country "NL"), never from a
hand-written list. Koningsdag, Pasen, Pinksteren, Hemelvaart, Kerst and (in lustrum years)
Bevrijdingsdag are included as that package defines them.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays


@cache
def _dutch_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("NL", years=year).keys())


def is_holiday(day: date) -> bool:
    return day in _dutch_holidays(day.year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def add_working_days(start: date, count: int) -> date:
    """The date `count` working days after `start` (count 0: `start` itself, or the next
    working day when `start` is not one)."""
    day = start
    if count <= 0:
        while not is_working_day(day):
            day += timedelta(days=1)
        return day
    remaining = count
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """How many working days lie after `start` up to and including `end`."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count
