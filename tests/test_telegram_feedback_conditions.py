"""Terugkoppeling through Telegram asks the state of each condition of the plan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from commands import agenda, besluit, casemanager, stemmen
from commands.context import Services
from messages.render import renderer
from store.models import Feedback, FormDraft, PlanCondition
from tests.conftest import Clock, member
from tests.faketelegram import Call, FakeTelegram, start_telegram
from tests.helpers import file
from tests.test_telegram_melding import OOST

DIRK = 5004  # lid, casemanager (Buurtteam)


@pytest.fixture
def telegram_forums() -> tuple[int, ...]:
    return (OOST,)


async def case_with_dirk(services: Services, clock: Clock) -> str:
    """A case in uitvoering (scenario 1, seven open conditions), Dirk its casemanager."""
    org = services.org
    clock.set(datetime(2026, 11, 19, 9, tzinfo=UTC))
    ref = str((await file(services, "anna")).value)
    carla, dirk, eva = (member(org, m) for m in ("carla", "dirk", "eva"))
    await agenda.post_agenda(services, carla, "oost")
    for voter in (carla, dirk, eva):
        await stemmen.cast_vote(services, voter, ref, "q1", "ja")
        await stemmen.cast_vote(services, voter, ref, "q3", "nee")
    await stemmen.cast_vote(services, carla, ref, "q2", steps=["schuldhulpverlening"])
    clock.set(datetime(2026, 11, 24, 9, 30, tzinfo=UTC))
    await besluit.record_decision(services, carla, ref)
    await casemanager.appoint(services, carla, ref, "dirk", "24-02-2027", 4)
    return ref


def name(key: str) -> str:
    return renderer("html").choice(key)


async def states(services: Services) -> dict[str, str]:
    async with services.transaction() as session:
        rows = (await session.scalars(select(PlanCondition).order_by(PlanCondition.id))).all()
        return {row.key: row.state for row in rows}


async def count(services: Services, model: type) -> int:
    async with services.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def tap(fake_telegram: FakeTelegram, call: Call, button: str, expect: str) -> Call:
    mark = fake_telegram.mark()
    fake_telegram.tap(DIRK, call, button)
    return await fake_telegram.next_call("sendMessage", DIRK, after=mark, contains=expect)


async def test_feedback_sets_conditions_through_telegram(
    services: Services, clock: Clock, fake_telegram: FakeTelegram
) -> None:
    ref = await case_with_dirk(services, clock)
    before = await states(services)
    assert len(before) == 7 and set(before.values()) == {"open"}
    clock.set(datetime(2026, 12, 22, 8, tzinfo=UTC))

    bot = await start_telegram(services, fake_telegram)
    try:
        mark = fake_telegram.mark()
        fake_telegram.send_text(DIRK, f"/terugkoppeling {ref}")
        await fake_telegram.next_call("sendMessage", DIRK, after=mark, contains="stand van zaken")
        mark = fake_telegram.mark()
        fake_telegram.send_text(DIRK, "Huisbezoek gedaan, de huur van december is betaald.")
        first = await fake_telegram.next_call("sendMessage", DIRK, after=mark, contains="Voorwaarde 1 van 7")
        assert name("opschorting_ontruiming") in first.text and "nu: open" in first.text
        assert all(b["text"] != "open" for b in first.buttons())  # the current state: "Zo laten"
        assert all(len(b["callback_data"].encode()) <= 64 for b in first.buttons())
        second = await tap(fake_telegram, first, "Zo laten", "Voorwaarde 2 van 7")
        assert name("achterstand_bevroren") in second.text
        third = await tap(fake_telegram, second, "voldaan", "Voorwaarde 3 van 7")
        # a double tap on the previous question changes nothing
        answer = await fake_telegram.answer_to(fake_telegram.tap(DIRK, second, "niet voldaan"))
        assert "eerdere vraag" in str(answer.params.get("text"))
        assert name("lopende_huur_betaald") in third.text
    finally:
        await bot.stop()

    # the conversation survives a restart: it is an encrypted draft
    async with services.transaction() as session:
        draft = (await session.scalars(select(FormDraft))).one()
        assert b"achterstand" not in draft.data and b"Huisbezoek" not in draft.data

    bot = await start_telegram(services, fake_telegram)
    try:
        fourth = await tap(fake_telegram, third, "niet voldaan", "Voorwaarde 4 van 7")
        holds = await tap(fake_telegram, fourth, "De rest zo laten", "termijn")
        mark = fake_telegram.mark()
        fake_telegram.tap(DIRK, holds, "ja")
        await fake_telegram.next_call("sendMessage", DIRK, after=mark, contains=ref)
        await fake_telegram.answer_to(fake_telegram.tap(DIRK, holds, "ja"))  # a double tap
    finally:
        await bot.stop()

    after = await states(services)
    assert after["achterstand_bevroren"] == "voldaan"
    assert after["lopende_huur_betaald"] == "niet_voldaan"
    changed = {"achterstand_bevroren", "lopende_huur_betaald"}
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed}
    assert await count(services, Feedback) == 1
    async with services.transaction() as session:
        feedback = (await session.scalars(select(Feedback))).one()
    assert feedback.conditions == {"achterstand_bevroren": "voldaan",
                                   "lopende_huur_betaald": "niet_voldaan"}
