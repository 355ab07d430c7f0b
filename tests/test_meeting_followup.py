"""After the decision: besluitenlijst, urgent additions, terugkoppeling rules."""

from __future__ import annotations

from sqlalchemy import select

from commands import agenda, besluit, casemanager, terugkoppeling
from commands.context import Services
from messages.render import renderer
from store.models import AgendaItem, Case, Meeting
from tests.conftest import Clock, member
from tests.helpers import file
from tests.test_meeting_rules import at, refused, voted_case


async def test_besluitenlijst_lists_decisions_and_carried_over(services: Services, clock: Clock) -> None:
    decided = await voted_case(services, clock)
    clock.set(at(11, 19, 10))
    undecided = (await file(services)).value
    clock.set(at(11, 24, 10, 30))
    carla = member(services.org, "carla")
    await besluit.record_decision(services, carla, decided)
    await casemanager.appoint(services, carla, decided, "eva", "01-03-2027")
    published = await besluit.publish_besluitenlijst(services, carla, "oost")
    text = renderer("plain").render(published.outgoing[0].message)
    assert decided in text and "Eva Mulder" in text and "ma 1 mrt 2027" in text
    assert f"Doorgeschoven naar het volgende overleg: {undecided}" in text
    async with services.transaction() as session:
        meeting = await session.get_one(Meeting, published.value)
    assert meeting.besluitenlijst is not None and meeting.besluitenlijst_at is not None


async def test_chair_adds_urgent_case_after_meeting_started(services: Services, clock: Clock) -> None:
    carla = member(services.org, "carla")
    clock.set(at(11, 24, 10, 30))  # Tuesday, the meeting is running
    urgent = (await file(services, dagvaarding="", zitting="30-11-2026")).value
    calm = (await file(services, zitting="20-01-2027")).value
    await refused(agenda.add_urgent(services, carla, calm), "binnen 14 dagen")
    await refused(agenda.add_urgent(services, member(services.org, "dirk"), urgent), "voorzitter")
    added = await agenda.add_urgent(services, carla, urgent)
    assert [o.message.template for o in added.outgoing] == ["agenda/aanvulling", "agenda/casus"]
    async with services.transaction() as session:
        item = (await session.execute(select(AgendaItem, Meeting).join(Meeting))).one()
    assert item.AgendaItem.addendum and str(item.Meeting.meeting_date) == "2026-11-24"


async def test_terugkoppeling_rules(services: Services, clock: Clock) -> None:
    ref = await voted_case(services, clock)
    org = services.org
    carla, eva, wendy = member(org, "carla"), member(org, "eva"), member(org, "wendy")
    await besluit.record_decision(services, carla, ref)
    await casemanager.appoint(services, carla, ref, "eva", "01-03-2027", 2)
    await refused(terugkoppeling.give_feedback(services, wendy, ref, "Gaat goed met de huur."),
                  "casemanager")
    await refused(terugkoppeling.give_feedback(services, eva, ref, "Nieuwe afspraak nodig.",
                                               new_termijn="01-04-2027"), "voorzitter")
    await refused(terugkoppeling.give_feedback(services, eva, ref, "Gaat goed.", {"vliegen": "voldaan"}),
                  "hoort niet bij dit plan")
    await terugkoppeling.give_feedback(services, eva, ref, "Huurder betaalt niet meer mee.",
                                       {"lopende_huur_betaald": "niet_voldaan"}, termijn_holds=False)
    async with services.transaction() as session:
        case = await session.scalar(select(Case).where(Case.reference == ref))
        assert case is not None
        sections = (await session.scalars(
            select(AgendaItem.section).join(Meeting).where(AgendaItem.case_id == case.id)
            .order_by(Meeting.meeting_date))).all()
    assert sections == ["nieuw", "termijn"]
    assert str(case.next_terugkoppeling) == "2026-12-08"
    changed = await terugkoppeling.give_feedback(services, carla, ref, "Nieuwe termijn afgesproken.",
                                                 new_termijn="01-04-2027")
    assert "Nieuwe termijn: do 1 apr 2027" in renderer("plain").render(changed.outgoing[0].message)


async def test_mbz_registration_requested_when_q3_is_ja(services: Services, clock: Clock) -> None:
    from commands import stemmen
    from store.models import Reminder

    ref = await voted_case(services, clock)
    for voter in ("carla", "dirk"):
        await stemmen.cast_vote(services, member(services.org, voter), ref, "q3", "ja")
    await besluit.record_decision(services, member(services.org, "carla"), ref)
    async with services.transaction() as session:
        request = (await session.scalars(select(Reminder).where(Reminder.kind == "mbz")
                                         .order_by(Reminder.due_at))).first()
    assert request is not None and request.target_partner_id == "mbz"
    assert request.due_at.replace(tzinfo=None) <= clock().replace(tzinfo=None)


async def test_besluitenlijst_is_about_the_meeting_of_the_decision(services: Services, clock: Clock) -> None:
    """A vote closed before its meeting starts belongs to that meeting, not to the last one held."""
    carla = member(services.org, "carla")
    clock.set(at(11, 12, 10))
    await file(services)
    await agenda.post_agenda(services, carla, "oost")  # the meeting of 17 November
    decided = await voted_case(services, clock)  # on the agenda of 24 November
    clock.set(at(11, 20, 9))  # the 17 November meeting was held, the next one not yet
    await besluit.record_decision(services, carla, decided)
    published = await besluit.publish_besluitenlijst(services, carla, "oost")
    text = renderer("plain").render(published.outgoing[0].message)
    assert text.startswith("Besluitenlijst Regieteam Oost · dinsdag 24 november 2026"), text
    assert f"{decided} (Talis)" in text


async def test_decision_has_an_outcome_statement_without_names(services: Services, clock: Clock) -> None:
    ref = await voted_case(services, clock)
    recorded = await besluit.record_decision(services, member(services.org, "carla"), ref)
    texts = {o.message.template: renderer("plain").render(o.message) for o in recorded.outgoing}
    statement = ("Uitkomst: de huisuitzetting kan voorkomen worden (scenario 1: voorkomen), "
                 "zonder extra stappen, zonder aanmelding bij het Meldpunt Bijzondere Zorg.")
    for template in ("besluit/vastgelegd", "besluit/corporatie"):
        line = next(line for line in texts[template].splitlines() if line.startswith("Uitkomst:"))
        assert line == statement
    published = await besluit.publish_besluitenlijst(services, member(services.org, "carla"), "oost")
    assert statement in renderer("plain").render(published.outgoing[0].message)
