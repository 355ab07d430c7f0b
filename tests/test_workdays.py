"""Working days are decided by the organisation file, not by the version of `holidays`:
Goede Vrijdag and Bevrijdingsdag 2026 and 2027 both ways, and the other Dutch holidays."""

from __future__ import annotations

from datetime import date

import pytest

from commands.organisation import OrganisationError, WorkingDays, parse_organisation
from commands.workdays import (
    add_working_days,
    days_off,
    is_working_day,
    working_days_between,
)
from tests.conftest import EXAMPLE_ORG

GOEDE_VRIJDAG = {2026: date(2026, 4, 3), 2027: date(2027, 3, 26)}
BEVRIJDINGSDAG = {2026: date(2026, 5, 5), 2027: date(2027, 5, 5)}  # a Tuesday and a Wednesday
FREE_GOOD_FRIDAY = WorkingDays(goede_vrijdag="vrij")
FREE_MAY_5 = WorkingDays(bevrijdingsdag="vrij")
WORKING_MAY_5 = WorkingDays(bevrijdingsdag="werkdag")


@pytest.mark.parametrize("year", [2026, 2027])
def test_goede_vrijdag_is_a_working_day_by_default_and_free_when_chosen(year: int) -> None:
    friday = GOEDE_VRIJDAG[year]
    assert friday.weekday() == 4
    assert is_working_day(friday)  # the default, whatever the holidays package says
    assert is_working_day(friday, WorkingDays())
    assert not is_working_day(friday, FREE_GOOD_FRIDAY)
    thursday = date.fromordinal(friday.toordinal() - 1)
    assert working_days_between(thursday, friday) == 1
    assert working_days_between(thursday, friday, FREE_GOOD_FRIDAY) == 0


def test_goede_vrijdag_2027_with_easter_monday_in_march() -> None:
    # 2027: Goede Vrijdag 26 March, Easter Monday 29 March; the next working day is 30 March
    assert add_working_days(date(2027, 3, 25), 1, FREE_GOOD_FRIDAY) == date(2027, 3, 30)
    assert add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 26)
    assert add_working_days(date(2026, 4, 2), 1, FREE_GOOD_FRIDAY) == date(2026, 4, 7)


@pytest.mark.parametrize("year", [2026, 2027])
def test_bevrijdingsdag_outside_a_lustrum_year_both_ways(year: int) -> None:
    may5 = BEVRIJDINGSDAG[year]
    assert may5.weekday() < 5
    assert is_working_day(may5)  # default "lustrum": only in 2025, 2030, …
    assert is_working_day(may5, WORKING_MAY_5)
    assert not is_working_day(may5, FREE_MAY_5)
    day_before = date(year, 5, 4)
    assert add_working_days(day_before, 1) == may5
    after = {2026: date(2026, 5, 6), 2027: date(2027, 5, 7)}  # 6 May 2027 is Hemelvaartsdag
    assert add_working_days(day_before, 1, FREE_MAY_5) == after[year]


def test_bevrijdingsdag_in_a_lustrum_year() -> None:
    assert not is_working_day(date(2025, 5, 5))  # Monday 5 May 2025, lustrum
    assert is_working_day(date(2025, 5, 5), WORKING_MAY_5)


def test_the_other_dutch_holidays_stay_free() -> None:
    free = days_off(2026)
    for day in (date(2026, 1, 1), date(2026, 4, 6), date(2026, 4, 27), date(2026, 5, 14),
                date(2026, 5, 25), date(2026, 12, 25), date(2026, 12, 26)):
        assert day in free, day
    assert GOEDE_VRIJDAG[2026] not in free and BEVRIJDINGSDAG[2026] not in free


def test_extra_days_off_of_the_organisation() -> None:
    closing = WorkingDays(extra_days_off=(date(2026, 12, 28), date(2026, 12, 29)))
    assert not is_working_day(date(2026, 12, 28), closing)
    assert add_working_days(date(2026, 12, 24), 1, closing) == date(2026, 12, 30)


def _org_with(working_days: str) -> str:
    block = ("  working_days:\n    goede_vrijdag: werkdag\n    bevrijdingsdag: lustrum\n"
             "    extra_days_off: []\n")
    text = EXAMPLE_ORG.read_text()
    assert block in text
    return text.replace(block, f"  working_days: {working_days}\n", 1)


def test_the_organisation_file_sets_the_working_days() -> None:
    org = parse_organisation(_org_with("{goede_vrijdag: vrij, bevrijdingsdag: vrij, "
                                       "extra_days_off: [2026-12-28]}"))
    rules = org.rules.working_days
    assert not is_working_day(GOEDE_VRIJDAG[2026], rules)
    assert not is_working_day(BEVRIJDINGSDAG[2027], rules)
    assert not is_working_day(date(2026, 12, 28), rules)
    default = parse_organisation(EXAMPLE_ORG.read_text()).rules.working_days
    assert default == WorkingDays(goede_vrijdag="werkdag", bevrijdingsdag="lustrum")


def test_a_wrong_choice_names_the_line_and_the_options() -> None:
    with pytest.raises(OrganisationError) as error:
        parse_organisation(_org_with("{goede_vrijdag: ja}"), "regieteam.yaml")
    message = str(error.value)
    assert "rules.working_days.goede_vrijdag" in message
    assert "'werkdag'" in message and "'vrij'" in message and "regel" in message
