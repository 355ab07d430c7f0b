"""Working days: Monday to Friday, except the days off the organisation file names.

The base is the Dutch public holidays of the maintained `holidays` package (country "NL",
category public): Nieuwjaarsdag, Pasen, Koningsdag, Hemelvaart, Pinksteren, Kerst. Two days
differ between organisations (and between versions of that package), so the organisation file
decides them explicitly (`rules.working_days`), and the package's own choice is ignored:

- Goede Vrijdag: `werkdag` (default) or `vrij`.
- Bevrijdingsdag (5 mei): `lustrum` (default: vrij in 2025, 2030, …), `vrij` every year, or
  `werkdag`.

`extra_days_off` adds the organisation's own closing days. The package is pinned to a tested
range in pyproject.toml; tests/test_workdays.py fixes the dates of 2026 and 2027. It is
imported when a year's days off are first needed, not at start (tests/test_lazy_imports.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import cache
from typing import Literal, Protocol

from dateutil.easter import easter

GoedeVrijdag = Literal["werkdag", "vrij"]
Bevrijdingsdag = Literal["werkdag", "vrij", "lustrum"]


class WorkingDayRules(Protocol):
    """The organisation's choice (`rules.working_days` in the organisation file)."""

    @property
    def goede_vrijdag(self) -> GoedeVrijdag: ...

    @property
    def bevrijdingsdag(self) -> Bevrijdingsdag: ...

    @property
    def extra_days_off(self) -> Iterable[date]: ...


class _Defaults:
    goede_vrijdag: GoedeVrijdag = "werkdag"
    bevrijdingsdag: Bevrijdingsdag = "lustrum"
    extra_days_off: tuple[date, ...] = ()


DEFAULT_RULES: WorkingDayRules = _Defaults()


def good_friday(year: int) -> date:
    sunday: date = easter(year)  # Western (Gregorian) Easter
    return sunday - timedelta(days=2)


def liberation_day(year: int) -> date:
    return date(year, 5, 5)


@cache
def _package_holidays(year: int) -> frozenset[date]:
    """The package's NL public holidays without the two days the organisation decides."""
    import holidays

    days = set(holidays.country_holidays("NL", years=year).keys())
    return frozenset(days - {good_friday(year), liberation_day(year)})


def days_off(year: int, rules: WorkingDayRules = DEFAULT_RULES) -> frozenset[date]:
    """Every weekday-independent day off in `year` under these rules."""
    days = set(_package_holidays(year))
    if rules.goede_vrijdag == "vrij":
        days.add(good_friday(year))
    if rules.bevrijdingsdag == "vrij" or (rules.bevrijdingsdag == "lustrum" and year % 5 == 0):
        days.add(liberation_day(year))
    days.update(day for day in rules.extra_days_off if day.year == year)
    return frozenset(days)


def is_holiday(day: date, rules: WorkingDayRules = DEFAULT_RULES) -> bool:
    return day in days_off(day.year, rules)


def is_working_day(day: date, rules: WorkingDayRules = DEFAULT_RULES) -> bool:
    return day.weekday() < 5 and not is_holiday(day, rules)


def add_working_days(start: date, count: int, rules: WorkingDayRules = DEFAULT_RULES) -> date:
    """The date `count` working days after `start` (count 0: `start` itself, or the next
    working day when `start` is not one)."""
    day = start
    if count <= 0:
        while not is_working_day(day, rules):
            day += timedelta(days=1)
        return day
    remaining = count
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day, rules):
            remaining -= 1
    return day


def working_days_between(start: date, end: date, rules: WorkingDayRules = DEFAULT_RULES) -> int:
    """How many working days lie after `start` up to and including `end`."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day, rules):
            count += 1
    return count
