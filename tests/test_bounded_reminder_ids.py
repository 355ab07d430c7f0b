"""Ids and numbers from buttons and commands are checked before they reach the database:
a 30-digit reminder id or nazorg value is "not found", never an OverflowError."""

from __future__ import annotations

import pytest

from commands import reminders
from commands.context import Services
from commands.replies import CommandRefused
from tests.conftest import member

HUGE = "9" * 30
BAD_IDS = [HUGE, "2147483648", "-1", "abc", "1e5", " ", "١٢٣", "0x10"]


@pytest.mark.parametrize("value", BAD_IDS)
async def test_reminder_buttons_refuse_ids_out_of_range(services: Services, value: str) -> None:
    joost = member(services.org, "joost")
    for answer in (reminders.acknowledge, reminders.mark_done, reminders.ask_postpone):
        with pytest.raises(CommandRefused) as refused:
            await answer(services, joost, value)
        assert refused.value.message.template == "herinnering/niet_gevonden"


@pytest.mark.parametrize("value", [f"RT-2026-0001:{HUGE}:ja:ja", "RT-2026-0001:-3:ja:nee",
                                   "RT-2026-0001:0:ja:ja", f"{'R' * 500}:6:ja:ja"])
async def test_nazorg_answer_refuses_values_out_of_range(services: Services, value: str) -> None:
    with pytest.raises(CommandRefused) as refused:
        await reminders.nazorg_button(services, member(services.org, "anna"), value)
    assert refused.value.message.template == "herinnering/niet_gevonden"
