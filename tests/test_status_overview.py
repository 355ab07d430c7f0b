"""`/status`: the overview per role, short and full, on SQLite and PostgreSQL.

Today is Tuesday 24 November 2026 (the services clock)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from commands.context import Services
from commands.replies import CommandRefused, Result
from commands.status import show_full_status, status_overview
from messages.render import renderer
from tests.status_builders import Rows, no_personal_data, utc


async def build_open_cases(services: Services) -> dict[str, str]:
    """Nine cases; S8 is closed. Returns name → reference."""
    async with services.transaction() as session:
        rows = Rows(services, session)
        s1 = await rows.case(team="oost", corporation="talis", filed_at=utc(2026, 11, 20),
                             zitting=date(2026, 12, 1))
        s2 = await rows.case(team="oost", corporation="portaal", filed_at=utc(2026, 11, 18),
                             phase="op_agenda", ontruiming=date(2026, 12, 10))
        s3 = await rows.case(team="west", corporation="talis", filed_at=utc(2026, 11, 23))
        s4 = await rows.case(team="west", corporation="woonwaarts", filed_at=utc(2026, 10, 1),
                             phase="besloten", scenario=1)
        s5 = await rows.case(team="oost", corporation="talis", filed_at=utc(2026, 8, 1),
                             phase="in_uitvoering", scenario=1, casemanager="dirk",
                             termijn=date(2026, 11, 20), next_terugkoppeling=date(2026, 11, 30))
        s6 = await rows.case(team="west", corporation="portaal", filed_at=utc(2026, 9, 1),
                             phase="in_uitvoering", scenario=2, casemanager="eva",
                             termijn=date(2026, 12, 5), next_terugkoppeling=date(2026, 11, 10))
        s7 = await rows.case(team="oost", corporation="woonwaarts", filed_at=utc(2026, 9, 15),
                             phase="in_uitvoering", scenario=1, casemanager="eva",
                             termijn=date(2027, 2, 1), next_terugkoppeling=date(2026, 12, 30))
        s8 = await rows.case(team="oost", corporation="talis", filed_at=utc(2026, 3, 1),
                             phase="gesloten", scenario=1, casemanager="dirk",
                             termijn=date(2026, 11, 1), closed_at=utc(2026, 10, 1),
                             outcome="blijft_betalingsregeling")
        s9 = await rows.case(team="west", corporation="woonwaarts", filed_at=utc(2026, 11, 24, 6))
        await rows.reminder(s6, "jeugdbescherming", utc(2026, 11, 12), sent_at=utc(2026, 11, 12))
        await rows.reminder(s5, "mbz", utc(2026, 9, 1), sent_at=utc(2026, 9, 1),
                            done_at=utc(2026, 9, 3))
        await rows.reminder(s2, "mbz", utc(2026, 11, 19), sent_at=utc(2026, 11, 19))
        await rows.reminder(s2, "mbz", utc(2026, 11, 24, 6), sent_at=utc(2026, 11, 24, 6))  # same series
        await rows.reminder(s2, "mbz", utc(2026, 11, 27))  # planned, not yet asked
        await rows.reminder(s7, "mbz", utc(2026, 9, 20), cancelled_at=utc(2026, 9, 21))
        names = dict(zip(("s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"),
                         (s1, s2, s3, s4, s5, s6, s7, s8, s9), strict=True))
        return {name: case.reference for name, case in names.items()}


def member(services: Services, member_id: str) -> Any:
    found = services.org.member(member_id)
    assert found is not None
    return found


def refs(block: dict[str, Any]) -> list[str]:
    return [line["referentie"] for line in block["casussen"]]


def render_all(result: Result) -> list[str]:
    return [renderer(fmt).render(message) for message in result.replies
            for fmt in ("plain", "mrkdwn", "html")]


async def test_coordinator_sees_everything(services: Services) -> None:
    ref = await build_open_cases(services)
    result = await status_overview(services, member(services, "joost"))
    data = result.value
    assert data["fasen"]["totaal"] == 8
    assert {k: data["fasen"][k] for k in ("nieuw", "op_agenda", "besloten", "in_uitvoering")} == {
        "nieuw": 3, "op_agenda": 1, "besloten": 1, "in_uitvoering": 3}
    assert data["fasen"]["per_scenario"] == {"1": 2, "2": 1, "onbekend": 0}
    # awaiting a decision: nearest court/eviction date first, cases without a date last
    assert data["wacht_op_besluit"]["totaal"] == 4
    assert refs(data["wacht_op_besluit"]) == [ref["s1"], ref["s2"], ref["s3"]]
    assert data["wacht_op_besluit"]["meer"] == 1
    assert refs(data["termijn_verlopen"]) == [ref["s5"]]
    assert refs(data["termijn_binnenkort"]) == [ref["s6"]]
    assert refs(data["terugkoppeling"]) == [ref["s6"], ref["s5"]]
    assert [c["te_laat"] for c in data["terugkoppeling"]["casussen"]] == [True, False]
    assert data["bevestigingen"]["per_soort"] == {"mbz": 1, "jeugdbescherming": 1}
    assert {c["referentie"] for c in data["bevestigingen"]["casussen"]} == {ref["s2"], ref["s6"]}
    assert data["per_team"] == [{"naam": "Regieteam Oost", "aantal": 4},
                                {"naam": "Regieteam West", "aantal": 4}]
    assert {r["naam"]: r["aantal"] for r in data["per_corporatie"]} == {
        "Talis": 3, "Portaal": 2, "Woonwaarts": 3}
    # short by default, with the button for the full list
    assert [a.name for a in result.replies[0].actions] == ["status_volledig"]
    for text in render_all(result):
        assert no_personal_data(text)
        assert ref["s1"] in text
        assert ref["s9"] not in text  # the fourth case awaiting a decision is behind the button
        assert "en nog 1" in text


async def test_full_list_through_the_button(services: Services) -> None:
    ref = await build_open_cases(services)
    result = await show_full_status(services, member(services, "joost"), "")
    data = result.value
    assert data["volledig"] is True
    assert refs(data["wacht_op_besluit"]) == [ref["s1"], ref["s2"], ref["s3"], ref["s9"]]
    assert result.replies[0].actions == ()
    for text in render_all(result):
        assert ref["s9"] in text
        assert no_personal_data(text)


EXPECTED_SHARE = {
    # member: the references (by name) that member sees among the open cases
    "joost": {"s1", "s2", "s3", "s4", "s5", "s6", "s7", "s9"},
    "carla": {"s1", "s2", "s5", "s7"},  # chair of Oost: the cases of Oost only
    "gerrit": {"s3", "s4", "s6", "s9"},  # chair of West: the cases of West only
    "anna": {"s1", "s3", "s5"},  # melder Talis
    "bram": {"s2", "s6"},  # melder Portaal (also lid of West: that adds nothing)
    "wendy": {"s4", "s7", "s9"},  # melder Woonwaarts
    "dirk": {"s5"},  # casemanager (s8 is closed)
    "eva": {"s6", "s7"},  # casemanager
}


@pytest.mark.parametrize("member_id", sorted(EXPECTED_SHARE))
async def test_each_role_sees_exactly_its_share(services: Services, member_id: str) -> None:
    ref = await build_open_cases(services)
    data = (await status_overview(services, member(services, member_id), full=True)).value
    expected = {ref[name] for name in EXPECTED_SHARE[member_id]}
    assert data["fasen"]["totaal"] == len(expected)
    assert sum(r["aantal"] for r in data["per_team"]) == len(expected)
    assert sum(r["aantal"] for r in data["per_corporatie"]) == len(expected)
    listed = set()
    for block in ("wacht_op_besluit", "termijn_verlopen", "termijn_binnenkort", "terugkoppeling",
                  "bevestigingen"):
        listed |= set(refs(data[block]))
    assert listed <= expected
    awaiting = {ref[n] for n in ("s1", "s2", "s3", "s9")} & expected
    assert set(refs(data["wacht_op_besluit"])) == awaiting


@pytest.mark.parametrize("member_id", ["fatima", "hanna"])
async def test_members_without_a_status_role_are_refused(services: Services, member_id: str) -> None:
    await build_open_cases(services)
    with pytest.raises(CommandRefused) as refused:
        await status_overview(services, member(services, member_id))
    assert refused.value.message.template == "fout/geen_rol"
    text = renderer("plain").render(refused.value.message)
    assert "Joost van Dam" in text


async def test_empty_database(services: Services) -> None:
    result = await status_overview(services, member(services, "joost"))
    assert result.value["fasen"]["totaal"] == 0
    text = renderer("plain").render(result.replies[0])
    assert "geen open casussen" in text


async def test_names_are_escaped_once_per_format(services: Services) -> None:
    partners = tuple(p.model_copy(update={"name": "Talis & <Zoon>"}) if p.id == "talis" else p
                     for p in services.org.partners)
    services.org = services.org.model_copy(update={"partners": partners})
    await build_open_cases(services)
    result = await status_overview(services, member(services, "joost"))
    html = renderer("html").render(result.replies[0])
    assert "Talis &amp; &lt;Zoon&gt;" in html
    assert "&amp;amp;" not in html and "&lt;b&gt;" not in html
    assert "<b>Wacht op een besluit: 4</b>" in html
    mrkdwn = renderer("mrkdwn").render(result.replies[0])
    assert "Talis &amp; &lt;Zoon&gt;" in mrkdwn and "*Termijn verlopen: 1*" in mrkdwn
