"""Each reminder kind fires at the right moments, to the right channel and member, and stops
when answered, confirmed, cancelled or the case is closed. Time is driven by the test clock."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from commands.context import Services
from commands.organisation import Organisation
from commands.reminders import (
    ANSWERED,
    CHANGED,
    CLOSED,
    DECIDED,
    DONE,
    acknowledge,
    answer_nazorg,
    ask_postpone,
    dispatch_due,
    feedback_button,
    mark_done,
    nazorg_button,
    postpone_reminder,
    sync_open_cases,
)
from commands.replies import CommandRefused
from commands.workdays import add_working_days, is_working_day
from store.models import Event, Feedback, NazorgCheck
from tests.conftest import Clock, member
from tests.reminders_support import (
    FakeCourier,
    ams,
    appoint,
    close_case,
    decide,
    deliveries_with,
    new_case,
    reminders_of,
    update_case,
)

SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


async def run_at(
        services: Services, clock: Clock, courier: FakeCourier, moment: datetime, only: str | None = None) -> list[tuple[str, str]]:
    clock.set(moment)
    await dispatch_due(services, deliveries_with(courier), "test")
    return [s for s in courier.take() if only is None or s[1] == f"herinnering/{only}"]


def test_working_days_skip_weekends_and_dutch_holidays() -> None:
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 28)  # Kerst + weekend
    assert add_working_days(date(2026, 4, 24), 1) == date(2026, 4, 28)  # Koningsdag
    assert not is_working_day(date(2027, 1, 1))
    assert add_working_days(date(2026, 11, 24), 3) == date(2026, 11, 27)


@SQLITE
async def test_termijn_before_on_the_day_overdue_and_chair(
        services: Services, clock: Clock, org: Organisation) -> None:
    courier = FakeCourier()
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2026, 12, 22))

    assert await run_at(services, clock, courier, ams(2026, 12, 15, 8, 59)) == []
    first = await run_at(services, clock, courier, ams(2026, 12, 15, 9, 0))
    assert first == [("buurtteam", "herinnering/termijn"), ("dirk", "herinnering/termijn")]
    # nobody at the Buurtteam pressed "Ontvangen" within 2 working days: the coordinator hears
    assert await run_at(services, clock, courier, ams(2026, 12, 17, 8, 59)) == []
    assert await run_at(services, clock, courier, ams(2026, 12, 17, 9)) == [
        ("joost", "herinnering/escalatie")]
    t = "termijn"
    assert await run_at(services, clock, courier, ams(2026, 12, 21, 12)) == []
    assert len(await run_at(services, clock, courier, ams(2026, 12, 22, 9), t)) == 2
    assert len(await run_at(services, clock, courier, ams(2026, 12, 29, 9), t)) == 2  # overdue 1
    second_overdue = await run_at(services, clock, courier, ams(2027, 1, 5, 9), t)
    assert ("carla", "herinnering/termijn") in second_overdue  # the chair from overdue 2
    assert len(second_overdue) == 3

    # the Regieteam agrees a new termijn: the old series stops, the new one starts
    await update_case(services, case.id, termijn=date(2027, 2, 1))
    rows = await reminders_of(services, case.id)
    assert {r.cancel_reason for r in rows if r.cancelled_at and r.kind == t} == {CHANGED}
    assert await run_at(services, clock, courier, ams(2027, 1, 12, 9), t) == []
    assert len(await run_at(services, clock, courier, ams(2027, 1, 25, 9), t)) == 2
    assert not [r for r in await reminders_of(services, case.id)
                if r.kind == "escalatie" and r.sent_at is None and r.cancelled_at is None
                and r.due_at.replace(tzinfo=None) < ams(2027, 1, 25).replace(tzinfo=None)]

    await close_case(services, case.id, outcome="verhuisd")
    assert await run_at(services, clock, courier, ams(2027, 2, 1, 9)) == []
    rows = await reminders_of(services, case.id)
    assert CLOSED in {r.cancel_reason for r in rows}
    assert all(r.sent_at or r.cancelled_at for r in rows if r.kind == "termijn")


@SQLITE
async def test_termijn_done_stops_the_series(
        services: Services, clock: Clock, org: Organisation) -> None:
    courier = FakeCourier()
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2026, 12, 22))
    await run_at(services, clock, courier, ams(2026, 12, 15, 9))
    rows = [r for r in await reminders_of(services, case.id) if r.sent_at]
    result = await mark_done(services, member(org, "dirk"), str(rows[0].id))
    assert result.replies[0].template == "herinnering/gedaan"
    assert await run_at(services, clock, courier, ams(2026, 12, 22, 9), "termijn") == []
    assert await run_at(services, clock, courier, ams(2027, 1, 5, 9), "termijn") == []
    async with services.transaction() as session:
        kinds = (await session.scalars(select(Event.kind).where(Event.case_id == case.id))).all()
    assert "reminder_sent" in kinds and "reminder_done" in kinds


@SQLITE
async def test_terugkoppeling_every_interval_until_answered(
        services: Services, clock: Clock, org: Organisation) -> None:
    courier = FakeCourier()
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2027, 3, 1), weeks=4)  # next: 22 Dec
    clock.set(ams(2026, 12, 22, 9))
    await dispatch_due(services, deliveries_with(courier), "t")
    feedback = [s for s in courier.sent if s.template == "herinnering/terugkoppeling"]
    assert [s.to for s in feedback] == ["dirk"]
    assert ("terugkoppeling_geven", case.reference) in feedback[0].actions
    assert case.reference in feedback[0].text
    courier.take()
    reply = await feedback_button(services, member(org, "dirk"), case.reference)
    assert reply.value == case.reference

    # not answered: asked again a week later
    assert ("dirk", "herinnering/terugkoppeling") in await run_at(
        services, clock, courier, ams(2026, 12, 29, 9))
    # answered on 30 Dec: the next one is 4 weeks later, the repeat of 5 Jan is cancelled
    clock.set(ams(2026, 12, 30, 14))
    async with services.transaction() as session:
        session.add(Feedback(case_id=case.id, member_id="dirk", given_at=services.now(),
                             text=b"(encrypted)", conditions={}))
    await update_case(services, case.id, next_terugkoppeling=date(2027, 1, 27))
    rows = await reminders_of(services, case.id)
    assert ANSWERED in {r.cancel_reason for r in rows if r.kind == "terugkoppeling"}
    assert all(s[1] != "herinnering/terugkoppeling"
               for s in await run_at(services, clock, courier, ams(2027, 1, 5, 9)))
    assert ("dirk", "herinnering/terugkoppeling") in await run_at(
        services, clock, courier, ams(2027, 1, 27, 9))


@SQLITE
async def test_mbz_every_three_working_days_until_confirmed(
        services: Services, clock: Clock, org: Organisation) -> None:
    courier = FakeCourier()
    case = await new_case(services)
    await decide(services, case.id, q1="ja", q3="ja")  # Tue 24 Nov 08:00
    assert await run_at(services, clock, courier, ams(2026, 11, 24, 8, 1)) == [
        ("mbz", "herinnering/mbz")]
    assert await run_at(services, clock, courier, ams(2026, 11, 26, 8, 0)) == []
    assert await run_at(services, clock, courier, ams(2026, 11, 26, 8, 1)) == [  # no answer
        ("joost", "herinnering/escalatie")]
    assert await run_at(services, clock, courier, ams(2026, 11, 27, 9)) == [  # +3 working days
        ("mbz", "herinnering/mbz")]
    sent = [r for r in await reminders_of(services, case.id) if r.kind == "mbz" and r.sent_at]
    fatima = member(org, "fatima")  # works at the Meldpunt
    with pytest.raises(CommandRefused):
        await mark_done(services, member(org, "wendy"), str(sent[-1].id))
    await mark_done(services, fatima, str(sent[-1].id))
    assert all(t != "herinnering/mbz" for _, t in await run_at(
        services, clock, courier, ams(2026, 12, 10, 9)))
    # a reopened decision with Q3 = ja again does not ask the Meldpunt a second time
    await decide(services, case.id, q1="ja", q3="ja")
    assert all(t != "herinnering/mbz" for _, t in await run_at(
        services, clock, courier, ams(2026, 12, 20, 9)))


@SQLITE
async def test_mbz_not_needed_after_reopened_decision(
        services: Services, clock: Clock, org: Organisation) -> None:
    courier = FakeCourier()
    case = await new_case(services)
    await decide(services, case.id, q3="ja")
    await run_at(services, clock, courier, ams(2026, 11, 24, 8, 5))
    await decide(services, case.id, q3="nee")
    rows = [r for r in await reminders_of(services, case.id) if r.kind == "mbz"]
    assert [r.cancel_reason for r in rows if r.cancelled_at] == [CHANGED]
    assert await run_at(services, clock, courier, ams(2026, 12, 2, 9)) == [
        ("joost", "herinnering/escalatie")]  # the first MBZ message was never acknowledged


@SQLITE
async def test_acknowledgement_escalates_to_coordinator(
        services: Services, clock: Clock, org: Organisation) -> None:
    courier = FakeCourier()
    acked, silent = await new_case(services), await new_case(services)
    for case in (acked, silent):
        await appoint(services, case.id, termijn=date(2027, 3, 1), scenario=2)
    # scenario 2 with children: Jeugdbescherming is told at once
    assert await run_at(services, clock, courier, ams(2026, 11, 24, 8, 1)) == [
        ("jbg", "herinnering/jeugdbescherming")] * 2
    first = {r.case_id: r for r in await reminders_of(services)
             if r.kind == "jeugdbescherming" and r.sent_at}
    await acknowledge(services, member(org, "hanna"), str(first[acked.id].id))
    again = await acknowledge(services, member(org, "hanna"), str(first[acked.id].id))
    assert again.replies[0].template == "herinnering/al_ontvangen"
    # two working days later only the silent one escalates to the coordinator
    assert await run_at(services, clock, courier, ams(2026, 11, 26, 8, 1)) == [
        ("joost", "herinnering/escalatie")]
    escalations = [r for r in await reminders_of(services) if r.kind == "escalatie"]
    assert {r.case_id for r in escalations if r.sent_at} == {silent.id}
    # reminded every 3 working days until confirmed; "Gedaan" ends it
    assert await run_at(services, clock, courier, ams(2026, 11, 27, 9)) == [
        ("jbg", "herinnering/jeugdbescherming")] * 2
    latest = [r for r in await reminders_of(services) if r.kind == "jeugdbescherming"
              and r.sent_at]
    for case in (acked, silent):
        await mark_done(services, member(org, "hanna"),
                        str([r for r in latest if r.case_id == case.id][-1].id))
    assert await run_at(services, clock, courier, ams(2026, 12, 15, 9)) == []


@SQLITE
async def test_urgent_tells_the_chair_at_once_or_when_the_date_comes_near(
        services: Services, clock: Clock, org: Organisation) -> None:
    courier = FakeCourier()
    await new_case(services, zitting="4 december 2026")  # within 14 days
    assert await run_at(services, clock, courier, ams(2026, 11, 24, 8, 1)) == [
        ("carla", "herinnering/spoed")]
    later = await new_case(services)  # zitting 15 December: within 14 days on 1 December
    assert await run_at(services, clock, courier, ams(2026, 11, 30, 12)) == []
    assert await run_at(services, clock, courier, ams(2026, 12, 1, 9)) == [
        ("carla", "herinnering/spoed")]
    decided = await new_case(services, zitting="20 december 2026")
    await decide(services, decided.id)
    assert await run_at(services, clock, courier, ams(2026, 12, 6, 9)) == []
    assert [r.cancel_reason for r in await reminders_of(services, decided.id)
            if r.kind == "spoed"] == [DECIDED]
    assert later.reference


@SQLITE
async def test_eviction_near_tells_casemanager_and_chair(
        services: Services, clock: Clock, org: Organisation) -> None:
    courier = FakeCourier()
    case = await new_case(services, ontruiming="30 december 2026")
    await appoint(services, case.id, termijn=date(2027, 3, 1))
    assert all(t != "herinnering/ontruiming_nadert" for _, t in await run_at(
        services, clock, courier, ams(2026, 12, 15, 9)))
    near = await run_at(services, clock, courier, ams(2026, 12, 16, 9))
    assert ("carla", "herinnering/ontruiming_nadert") in near
    assert ("dirk", "herinnering/ontruiming_nadert") in near


@SQLITE
async def test_nazorg_asks_the_corporation_and_records_the_answer(
        services: Services, clock: Clock, org: Organisation) -> None:
    courier = FakeCourier()
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2027, 3, 1))
    await close_case(services, case.id, outcome="blijft_wonen")
    async with services.transaction() as session:
        checks = (await session.scalars(select(NazorgCheck).where(
            NazorgCheck.case_id == case.id).order_by(NazorgCheck.months))).all()
    assert [(c.months, c.due_date) for c in checks] == [
        (3, date(2027, 2, 24)), (6, date(2027, 5, 24)), (12, date(2027, 11, 24))]
    assert await run_at(services, clock, courier, ams(2027, 2, 23, 12)) == []
    clock.set(ams(2027, 2, 24, 9))
    await dispatch_due(services, deliveries_with(courier), "t")
    [asked] = courier.sent
    assert (asked.to, asked.template) == ("talis", "herinnering/nazorg")
    assert ("nazorg_beantwoorden", f"{case.reference}:3:ja:ja") in asked.actions
    courier.take()
    with pytest.raises(CommandRefused):
        await answer_nazorg(services, member(org, "wendy"), case.reference, 3, True, True)
    result = await nazorg_button(services, member(org, "anna"), f"{case.reference}:3:ja:nee")
    assert result.replies[0].template == "herinnering/nazorg_beantwoord"
    async with services.transaction() as session:
        check = await session.scalar(select(NazorgCheck).where(
            NazorgCheck.case_id == case.id, NazorgCheck.months == 3))
        assert check is not None and check.still_housed is True and check.paying is False
    assert await run_at(services, clock, courier, ams(2027, 3, 3, 9)) == []  # no repeat
    assert await run_at(services, clock, courier, ams(2027, 5, 24, 9)) == [
        ("talis", "herinnering/nazorg")]


@SQLITE
async def test_no_nazorg_when_the_tenant_left(
        services: Services, clock: Clock, org: Organisation) -> None:
    courier = FakeCourier()
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2027, 3, 1))
    await close_case(services, case.id, outcome="ontruimd")
    assert await run_at(services, clock, courier, ams(2027, 12, 1, 9)) == []
    assert all(r.cancel_reason == CLOSED for r in await reminders_of(services, case.id)
               if r.cancelled_at and r.kind in ("termijn", "terugkoppeling"))


@SQLITE
async def test_postpone_to_a_date_with_a_reason(
        services: Services, clock: Clock, org: Organisation) -> None:
    courier = FakeCourier()
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2026, 12, 22))
    await run_at(services, clock, courier, ams(2026, 12, 15, 9))
    mine = next(r for r in await reminders_of(services, case.id)
                if r.sent_at and r.target_member_id == "dirk")
    dirk = member(org, "dirk")
    asked = await ask_postpone(services, dirk, str(mine.id))
    assert asked.replies[0].template == "herinnering/uitstellen_vraag"
    with pytest.raises(CommandRefused):
        await postpone_reminder(services, dirk, mine.id, "14-12-2026", "Huisbezoek gepland")
    with pytest.raises(CommandRefused):
        await postpone_reminder(services, dirk, mine.id, "05-01-2027", "")
    result = await postpone_reminder(services, dirk, mine.id, "05-01-2027",
                                     "Wacht op gesprek met de bewindvoerder")
    assert result.replies[0].template == "herinnering/uitgesteld"
    # nothing for Dirk on the termijn day or the first overdue day; again on 5 January
    assert await run_at(services, clock, courier, ams(2026, 12, 22, 9), "termijn") == [
        ("buurtteam", "herinnering/termijn")]
    assert await run_at(services, clock, courier, ams(2026, 12, 29, 9), "termijn") == [
        ("buurtteam", "herinnering/termijn")]
    again = await run_at(services, clock, courier, ams(2027, 1, 5, 9), "termijn")
    assert again.count(("dirk", "herinnering/termijn")) == 1  # the copy, not also the regular
    assert ("carla", "herinnering/termijn") in again  # the others are not held back
    rows = await reminders_of(services, case.id)
    assert any(r.postponed_to and r.postpone_reason for r in rows)
    assert DONE not in {r.cancel_reason for r in rows}
    async with services.transaction() as session:
        kinds = (await session.scalars(select(Event.kind).where(Event.case_id == case.id))).all()
    assert "reminder_postponed" in kinds


@SQLITE
async def test_nazorg_escalates_after_closure_and_refresh_is_idempotent(
        services: Services, clock: Clock, org: Organisation) -> None:
    courier = FakeCourier()
    case = await new_case(services)
    await appoint(services, case.id, termijn=date(2027, 3, 1))
    await close_case(services, case.id, outcome="blijft_betalingsregeling")
    assert await run_at(services, clock, courier, ams(2027, 2, 24, 9)) == [
        ("talis", "herinnering/nazorg")]
    before = len(await reminders_of(services))
    assert await sync_open_cases(services) == 1
    assert await sync_open_cases(services) == 1
    assert len(await reminders_of(services)) == before  # nothing created twice
    # Wed 24 Feb + 2 working days = Fri 26 Feb: nobody at Talis answered
    assert await run_at(services, clock, courier, ams(2027, 2, 26, 9)) == [
        ("joost", "herinnering/escalatie")]


async def test_closing_a_case_stops_its_open_meldpunt_request(
        services: Services, clock: Clock, org: Organisation) -> None:
    from commands.status import status_overview

    courier = FakeCourier()
    case = await new_case(services)
    await decide(services, case.id, q1="ja", q3="ja")
    assert await run_at(services, clock, courier, ams(2026, 11, 24, 8, 1)) == [
        ("mbz", "herinnering/mbz")]
    await close_case(services, case.id)
    sent = [r for r in await reminders_of(services, case.id) if r.kind == "mbz" and r.sent_at]
    assert sent and all(r.cancel_reason == CLOSED for r in sent)
    overview = await status_overview(services, member(org, "joost"))
    assert overview.replies[0].data["bevestigingen"]["totaal"] == 0
    assert all(t != "herinnering/mbz" for _, t in await run_at(
        services, clock, courier, ams(2026, 12, 10, 9)))
