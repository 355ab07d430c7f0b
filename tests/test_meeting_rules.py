"""The rules of the meeting: agenda order and idempotence, state errors, one decision."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from commands import agenda, besluit, casemanager, sluiten, stemmen
from commands.context import Services
from commands.replies import CommandRefused
from messages.render import renderer
from store.models import AgendaItem, Case, Decision, Vote
from tests.conftest import Clock, member
from tests.helpers import file


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour - 1, minute, tzinfo=UTC)  # Amsterdam winter time


async def refused(coro: object, *words: str) -> str:
    with pytest.raises(CommandRefused) as caught:
        await coro  # type: ignore[misc]
    text = renderer("plain").render(caught.value.message)
    for word in words:
        assert word in text, text
    return text


async def snapshot(services: Services) -> tuple[object, ...]:
    async with services.transaction() as session:
        counts = [await session.scalar(select(func.count()).select_from(model))
                  for model in (Vote, Decision, AgendaItem)]
        phases = (await session.scalars(select(Case.phase).order_by(Case.id))).all()
    return (*counts, tuple(phases))


async def voted_case(services: Services, clock: Clock, voters: tuple[str, ...] = ("carla", "dirk", "eva"),
                     **changes: object) -> str:
    clock.set(at(11, 19, 10))
    ref = str((await file(services, "anna", **changes)).value)
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    for voter in voters:
        await stemmen.cast_vote(services, member(services.org, voter), ref, "q1", "ja")
        await stemmen.cast_vote(services, member(services.org, voter), ref, "q3", "nee")
    clock.set(at(11, 24, 10, 30))
    return ref


async def test_agenda_order_most_urgent_first_then_children(services: Services, clock: Clock) -> None:
    clock.set(at(11, 19, 10))
    late = (await file(services, zitting="20-01-2027")).value
    no_kids = (await file(services, zitting="10-12-2026", huishouden=["multiprobleem"],
                          minderjarige_kinderen="0")).value
    kids = (await file(services, zitting="10-12-2026")).value
    no_date = (await file(services, zitting="")).value
    carla = member(services.org, "carla")
    first = await agenda.show_agenda(services, carla)
    second = await agenda.show_agenda(services, carla)
    assert first.value == second.value
    async with services.transaction() as session:
        meeting_items = await session.scalar(select(func.count()).select_from(AgendaItem))
        order = [e.case.reference for e in await agenda.agenda_entries(
            session, await session.get_one(agenda.Meeting, first.value))]
    assert meeting_items == 4
    assert order == [kids, no_kids, late, no_date]


async def test_state_errors_change_nothing(services: Services, clock: Clock) -> None:
    org = services.org
    clock.set(at(11, 19, 10))
    ref = str((await file(services)).value)
    carla, dirk, anna = member(org, "carla"), member(org, "dirk"), member(org, "anna")
    before = await snapshot(services)
    await refused(stemmen.cast_vote(services, dirk, ref, "q1", "ja"), "nog niet op een agenda")
    await refused(casemanager.appoint(services, carla, ref, "dirk", "01-03-2027"), "eerst het besluit")
    assert await snapshot(services) == before

    await agenda.post_agenda(services, carla, "oost")
    await refused(stemmen.cast_vote(services, anna, ref, "q1", "ja"), "stemmen mee")
    await refused(stemmen.cast_vote(services, dirk, ref, "q1", "misschien"), "ja, nee, twijfel")
    await stemmen.cast_vote(services, dirk, ref, "q1", "ja")
    await refused(besluit.record_decision(services, dirk, ref), "voorzitter")
    await refused(besluit.record_decision(services, carla, ref), "minstens 3")
    for voter in ("carla", "eva"):
        await stemmen.cast_vote(services, member(org, voter), ref, "q1", "ja")
        await stemmen.cast_vote(services, member(org, voter), ref, "q3", "nee")
    await stemmen.cast_vote(services, dirk, ref, "q3", "ja")
    await refused(besluit.record_decision(services, carla, ref, q1="nee"), "wijkt af")
    await besluit.record_decision(services, carla, ref)
    before = await snapshot(services)
    await refused(stemmen.cast_vote(services, dirk, ref, "q1", "nee"), "gesloten")
    await refused(sluiten.close_case(services, carla, ref, "uitgezet_zonder_opvang", "Vonnis uitgevoerd."),
                  "nooit op straat")
    await refused(sluiten.close_case(services, carla, ref, "uitgezet_met_opvang", "Vonnis uitgevoerd."),
                  "opvang")
    await refused(sluiten.close_case(services, dirk, ref, "ingetrokken", "Huurder verhuisd."), "voorzitter")
    assert await snapshot(services) == before


async def test_double_decision_records_one(services: Services, clock: Clock) -> None:
    ref = await voted_case(services, clock)
    carla = member(services.org, "carla")
    results = await asyncio.gather(*(besluit.record_decision(services, carla, ref) for _ in range(5)))
    assert len({r.value for r in results}) == 1
    async with services.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Decision)) == 1


async def test_reopen_keeps_history_and_allows_a_new_decision(services: Services, clock: Clock) -> None:
    ref = await voted_case(services, clock)
    carla, eva = member(services.org, "carla"), member(services.org, "eva")
    await besluit.record_decision(services, carla, ref)
    await refused(besluit.reopen_decision(services, eva, ref, "Nieuwe informatie."), "voorzitter")
    await besluit.reopen_decision(services, carla, ref, "Nieuwe informatie van de corporatie.")
    await stemmen.cast_vote(services, eva, ref, "q1", "nee")
    await besluit.record_decision(services, carla, ref, q1="nee", reason="Huurder werkt niet mee.")
    async with services.transaction() as session:
        decisions = (await session.scalars(select(Decision).order_by(Decision.id))).all()
    assert [d.q1 for d in decisions] == ["ja", "nee"]
    assert decisions[0].superseded_at is not None and decisions[0].reopen_reason
    assert services.cipher.decrypt_optional(decisions[1].deviation_reason) == "Huurder werkt niet mee."


async def test_protected_household_closes_only_with_shelter(services: Services, clock: Clock) -> None:
    ref = await voted_case(services, clock)
    carla = member(services.org, "carla")
    await besluit.record_decision(services, carla, ref, q1="nee", reason="Geen zicht op betaling.")
    await casemanager.appoint(services, carla, ref, "dirk", "01-02-2027", 2)
    closed = await sluiten.close_case(services, carla, ref, "uitgezet_met_opvang", "Vonnis uitgevoerd.",
                                      shelter="crisisopvang", shelter_note="Gezinsopvang De Haven")
    assert closed.value == ref


async def test_vulnerable_without_children_is_protected_too(services: Services, clock: Clock) -> None:
    ref = await voted_case(services, clock, huishouden=["kwetsbaar"], minderjarige_kinderen="0")
    carla = member(services.org, "carla")
    await besluit.record_decision(services, carla, ref)
    await refused(sluiten.close_case(services, carla, ref, "uitgezet_zonder_opvang", "Vonnis uitgevoerd."),
                  "nooit op straat")


async def test_unprotected_household_may_close_without_shelter(services: Services, clock: Clock) -> None:
    ref = await voted_case(services, clock, huishouden=["woonoverlast"], minderjarige_kinderen="0")
    carla = member(services.org, "carla")
    await besluit.record_decision(services, carla, ref)
    await sluiten.close_case(services, carla, ref, "uitgezet_zonder_opvang", "Vonnis uitgevoerd.")
