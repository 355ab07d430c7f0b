"""A full case through the Regieteam: filed → agenda → votes → decision → casemanager →
terugkoppeling → closed, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from commands import agenda, besluit, casemanager, sluiten, stemmen, terugkoppeling
from commands.context import Services
from store.models import AgendaItem, Case, Decision, Event, PlanCondition
from tests.conftest import Clock, member
from tests.helpers import file


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in Amsterdam winter time (UTC+1), as UTC."""
    return datetime(year, month, day, hour - 1, minute, tzinfo=UTC)


async def test_full_case(services: Services, clock: Clock) -> None:
    org = services.org
    clock.set(at(2026, 11, 19, 10))  # Thursday, before the Monday cut-off
    filed = await file(services, "anna")
    ref = filed.value
    assert ref == "RT-2026-0001"

    carla, dirk, eva, fatima = (member(org, m) for m in ("carla", "dirk", "eva", "fatima"))
    shown = await agenda.show_agenda(services, carla)
    again = await agenda.show_agenda(services, carla)
    assert shown.value == again.value
    posted = await agenda.post_agenda(services, carla, "oost")
    keys = [o.update_key for o in posted.outgoing]
    assert keys[0] == f"agenda:{shown.value}" and "case_thread:1" in keys

    await stemmen.cast_vote(services, carla, ref, "q1", "ja")
    await stemmen.cast_vote(services, dirk, ref, "q1", "nee")
    await stemmen.cast_vote(services, dirk, ref, "q1", "ja")  # changed his mind
    await stemmen.cast_vote(services, eva, ref, "q1", "ja")
    await stemmen.cast_vote(services, carla, ref, "q2", steps=["schuldhulpverlening", "huisbezoek"])
    await stemmen.cast_vote(services, eva, ref, "q2", steps=["schuldhulpverlening"])
    for voter, choice in ((carla, "nee"), (dirk, "ja"), (eva, "nee"), (fatima, "nee")):
        tally = await stemmen.cast_vote(services, voter, ref, "q3", choice)
    update = tally.outgoing[0]
    assert update.update_key is not None and update.update_key.startswith("tally:")

    clock.set(at(2026, 11, 24, 10, 30))  # during the meeting
    decided = await besluit.record_decision(services, carla, ref)
    twice = await besluit.record_decision(services, carla, ref)
    assert decided.value == twice.value
    appointed = await casemanager.appoint(services, carla, ref, "dirk", "24-02-2027", 4)
    assert appointed.outgoing[0].to.id == "dirk"

    clock.set(at(2026, 12, 22, 9))
    await terugkoppeling.give_feedback(services, dirk, ref, "Huur van december is betaald.",
                                       {"lopende_huur_betaald": "voldaan"})
    clock.set(at(2027, 2, 1, 9))
    closed = await sluiten.close_case(services, carla, ref, "blijft_betalingsregeling",
                                      "Betalingsregeling loopt, achterstand wordt afgelost.")
    assert {o.to.id for o in closed.outgoing} >= {"talis", "oost"}

    async with services.transaction() as session:
        case = await session.scalar(select(Case).where(Case.reference == ref))
        assert case is not None
        assert (case.phase, case.scenario, case.casemanager_id) == ("gesloten", 1, "dirk")
        assert case.termijn == date(2027, 2, 24) and case.outcome == "blijft_betalingsregeling"
        assert await session.scalar(select(func.count()).select_from(Decision)) == 1
        decision = await session.scalar(select(Decision))
        assert decision is not None
        assert (decision.q1, decision.q3) == ("ja", "nee")
        assert decision.q2_steps == ["schuldhulpverlening", "huisbezoek"]
        assert decision.voters == ["carla", "dirk", "eva", "fatima"]
        condition = await session.scalar(select(PlanCondition).where(PlanCondition.key == "lopende_huur_betaald"))
        assert condition is not None and condition.state == "voldaan"
        kinds = list((await session.scalars(select(Event.kind).order_by(Event.at, Event.id))).all())
    assert kinds[0] == "filed" and kinds[1] == "agenda_added"
    assert kinds.count("vote_cast") == 9 and kinds.count("vote_changed") == 1
    assert kinds[-4:] == ["decision_recorded", "casemanager_appointed", "feedback_given", "case_closed"]


async def test_not_decided_carries_over_and_addendum(services: Services, clock: Clock) -> None:
    org = services.org
    carla = member(org, "carla")
    clock.set(at(2026, 11, 19, 10))
    first = (await file(services, "anna")).value
    await agenda.post_agenda(services, carla, "oost")
    clock.set(at(2026, 11, 23, 15))  # after the cut-off, agenda already posted
    late = await file(services, "anna")
    assert [o.message.template for o in late.outgoing][:2] == ["melding/aangekondigd", "agenda/aanvulling"]
    clock.set(at(2026, 11, 24, 11))  # meeting has started: a new melding waits
    later = (await file(services, "anna")).value
    clock.set(at(2026, 11, 26, 9))
    meeting_id = (await agenda.show_agenda(services, carla)).value
    async with services.transaction() as session:
        rows = (await session.execute(
            select(Case.reference, AgendaItem.section, AgendaItem.addendum)
            .join(AgendaItem, AgendaItem.case_id == Case.id)
            .where(AgendaItem.meeting_id == meeting_id))).all()
    sections = {ref: section for ref, section, _ in rows}
    assert sections == {first: "doorgeschoven", late.value: "doorgeschoven", later: "nieuw"}
