"""`/status RT-…`: one case's timeline; personal data only for the entitled, separately."""

from __future__ import annotations

from datetime import date

import pytest

from commands.context import Services
from commands.replies import CommandRefused, Result
from commands.status import case_timeline
from messages.render import renderer
from store.models import Assignment, Event, Feedback, PlanCondition
from tests.status_builders import TENANT, Rows, members, no_personal_data, utc


async def build_case_history(services: Services) -> str:
    """A case with a reopened decision, a casemanager, conditions, reminders, feedback and
    closure (Regieteam Oost, Talis, casemanager Dirk)."""
    async with services.transaction() as session:
        rows = Rows(services, session)
        case = await rows.case(team="oost", corporation="talis", filed_at=utc(2026, 6, 1),
                               phase="gesloten", scenario=1, casemanager="dirk",
                               termijn=date(2026, 9, 1), closed_at=utc(2026, 10, 1),
                               outcome="blijft_betalingsregeling")
        await rows.decision(case, utc(2026, 6, 9), superseded_at=utc(2026, 6, 12))
        await rows.decision(case, utc(2026, 6, 16))
        session.add(Assignment(case_id=case.id, member_id="dirk", scenario=1,
                               termijn=date(2026, 9, 1), terugkoppeling_weeks=4,
                               appointed_by="carla", appointed_at=utc(2026, 6, 16, 11)))
        session.add(PlanCondition(case_id=case.id, key="huur_betaald", state="voldaan",
                                  updated_at=utc(2026, 8, 1)))
        session.add(Feedback(case_id=case.id, member_id="dirk", given_at=utc(2026, 7, 14),
                             text=services.cipher.encrypt("Betaalt weer op tijd."), termijn_holds=True,
                             conditions={}))
        session.add(Event(case_id=case.id, kind="termijn_changed", actor_id="carla",
                          at=utc(2026, 8, 2), data={"termijn": "2026-09-01"}))
        await rows.reminder(case, "mbz", utc(2026, 6, 17), sent_at=utc(2026, 6, 17, 8),
                            done_at=utc(2026, 6, 19))
        await rows.nazorg(case, 3, date(2027, 1, 1))
        return case.reference


def texts(result: Result, personal: bool) -> list[str]:
    return [renderer(fmt).render(m) for m in result.replies if m.personal is personal
            for fmt in ("plain", "mrkdwn", "html")]


async def test_timeline_shows_every_step_in_order(services: Services) -> None:
    reference = await build_case_history(services)
    (coordinator,) = members(services, "joost")
    result = await case_timeline(services, coordinator, reference.lower())
    kinds = [step["soort"] for step in result.value["stappen"]]
    # the builder puts both agenda items on the agenda when the melding comes in
    assert kinds == ["gemeld", "agenda", "agenda", "besluit", "heropend", "besluit",
                     "casemanager", "herinnering", "herinnering_gedaan", "terugkoppeling",
                     "voorwaarde", "termijn_gewijzigd", "gesloten", "nazorg_gepland"]
    text = texts(result, personal=False)[0]
    for expected in ("Verloop van " + reference, "besluit heropend", "Dirk Visser is casemanager",
                     "huur betaald", "voldaan", "blijft wonen met betalingsregeling",
                     "aanmelding Meldpunt Bijzondere Zorg"):
        assert expected in text, expected


async def test_personal_data_only_for_the_entitled_and_apart(services: Services) -> None:
    reference = await build_case_history(services)
    for member_id in ("joost", "anna", "dirk", "carla"):  # coordinator, melder, casemanager, chair
        (member,) = members(services, member_id)
        result = await case_timeline(services, member, reference)
        # the timeline, the household's details, and the free text (terugkoppeling) privately
        assert [m.personal for m in result.replies] == [False, True, True], member_id
        assert all(no_personal_data(t) for t in texts(result, personal=False))
        assert TENANT["naam"] in renderer("plain").render(result.replies[1])
        assert "Betaalt weer op tijd." in renderer("plain").render(result.replies[2])
        from commands.audit import record_delivered

        await record_delivered(services, result.replies[1])  # as an adapter does, once delivered
    async with services.transaction() as session:
        from sqlalchemy import func, select

        viewed = await session.scalar(select(func.count()).select_from(Event).where(
            Event.kind == "personal_data_viewed"))
    assert viewed == 4


async def test_team_member_sees_the_timeline_without_personal_data(services: Services) -> None:
    reference = await build_case_history(services)
    (fatima,) = members(services, "fatima")  # lid of Oost, not entitled
    result = await case_timeline(services, fatima, reference)
    assert [m.personal for m in result.replies] == [False, True]  # the free text, not the household
    assert all(no_personal_data(t) for t in texts(result, personal=False))
    assert TENANT["naam"] not in renderer("plain").render(result.replies[1])


@pytest.mark.parametrize("member_id", ["gerrit", "bram", "hanna", "wendy"])
async def test_others_are_refused(services: Services, member_id: str) -> None:
    reference = await build_case_history(services)
    (member,) = members(services, member_id)
    with pytest.raises(CommandRefused) as refused:
        await case_timeline(services, member, reference)
    assert refused.value.message.template == "fout/geen_toegang_casus"


async def test_unknown_reference(services: Services) -> None:
    (coordinator,) = members(services, "joost")
    with pytest.raises(CommandRefused) as refused:
        await case_timeline(services, coordinator, "RT-2026-9999")
    assert refused.value.message.template == "status/casus_onbekend"
    assert "RT-2026-9999" in renderer("plain").render(refused.value.message)


async def test_something_else_than_a_reference_is_not_repeated(services: Services) -> None:
    (coordinator,) = members(services, "joost")
    with pytest.raises(CommandRefused) as refused:
        await case_timeline(services, coordinator, "Jan Fictief")
    assert refused.value.message.template == "status/referentie_vorm"
    assert "Fictief" not in renderer("plain").render(refused.value.message)
