"""`/rapport`: the figures checked against a hand-built data set with known answers.

Period: 1 June – 31 October 2026 (Amsterdam), i.e. UTC [31 May 22:00, 31 Oct 23:00).

All times UTC, 10:00 unless given; "cur." is the decision that stands.
A oost/talis      filed 1 jun; decided 11 jun; closed 11 jul: blijft_betalingsregeling
B oost/portaal    filed 15 jun; decided 20 jun, reopened, cur. 30 jun; closed 29 aug: uitgezet_met_opvang
C west/talis      filed 1 jul; no decision; closed 5 jul: ingetrokken (withdrawn)
D west/woonwaarts filed 20 mei, decided 28 mei (both before); closed 10 jun: blijft_laatste_kans...
E oost/talis      filed 20 okt; decided 3 nov (after); open
F oost/talis      filed 31 okt 23:30 = 1 nov 00:30 in Amsterdam: after the period
G west/portaal    filed 31 mei 22:30 = 1 jun 00:30 in Amsterdam: inside; decided 8 jun 22:30;
                  closed 8 sep 22:30: verhuisd_andere_woonvorm
H oost/woonwaarts filed 10 jun; decided 17 jun; closed 5 nov (after): blijft_betalingsregeling
I west/talis      filed 10 jul; decided 14 jul; closed 12 okt: uitgezet_zonder_opvang
J oost/talis      filed 1 apr 2025; closed 1 jul 2025: blijft_betalingsregeling (nazorg only)
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from commands.context import Services
from commands.rapport import rapport
from commands.replies import CommandRefused
from commands.rollups import rebuild_figures
from messages.render import renderer
from tests.status_builders import Rows, no_personal_data, utc

VAN, TOT = "01-06-2026", "31 oktober 2026"


async def build_period_cases(services: Services) -> dict[str, str]:
    async with services.transaction() as session:
        rows = Rows(services, session)
        a = await rows.case(team="oost", corporation="talis", filed_at=utc(2026, 6, 1),
                            categories=["gezin_met_minderjarige_kinderen"], minor_children=2,
                            phase="gesloten", scenario=1, closed_at=utc(2026, 7, 11),
                            outcome="blijft_betalingsregeling")
        await rows.decision(a, utc(2026, 6, 11))
        b = await rows.case(team="oost", corporation="portaal", filed_at=utc(2026, 6, 15),
                            reason="overlast", phase="gesloten", scenario=2,
                            closed_at=utc(2026, 8, 29), outcome="uitgezet_met_opvang")
        await rows.decision(b, utc(2026, 6, 20), superseded_at=utc(2026, 6, 25), q1="nee")
        await rows.decision(b, utc(2026, 6, 30), q1="nee")
        c = await rows.case(team="west", corporation="talis", filed_at=utc(2026, 7, 1),
                            categories=["kwetsbaar"], phase="gesloten", closed_at=utc(2026, 7, 5),
                            outcome="ingetrokken")
        d = await rows.case(team="west", corporation="woonwaarts", filed_at=utc(2026, 5, 20),
                            categories=["senioren"], phase="gesloten", scenario=1,
                            closed_at=utc(2026, 6, 10), outcome="blijft_laatste_kansovereenkomst")
        await rows.decision(d, utc(2026, 5, 28))
        e = await rows.case(team="oost", corporation="talis", filed_at=utc(2026, 10, 20),
                            phase="besloten")
        await rows.decision(e, utc(2026, 11, 3))
        f = await rows.case(team="oost", corporation="talis", filed_at=utc(2026, 10, 31, 23, 30))
        g = await rows.case(team="west", corporation="portaal", filed_at=utc(2026, 5, 31, 22, 30),
                            categories=["gezin_met_minderjarige_kinderen", "multiprobleem"],
                            minor_children=1, phase="gesloten", scenario=1,
                            closed_at=utc(2026, 9, 8, 22, 30), outcome="verhuisd_andere_woonvorm")
        await rows.decision(g, utc(2026, 6, 8, 22, 30))
        h = await rows.case(team="oost", corporation="woonwaarts", filed_at=utc(2026, 6, 10),
                            phase="gesloten", scenario=1, closed_at=utc(2026, 11, 5),
                            outcome="blijft_betalingsregeling")
        await rows.decision(h, utc(2026, 6, 17))
        i = await rows.case(team="west", corporation="talis", filed_at=utc(2026, 7, 10),
                            reason="hennepteelt_drugs", categories=["woonoverlast"],
                            phase="gesloten", scenario=2, closed_at=utc(2026, 10, 12),
                            outcome="uitgezet_zonder_opvang")
        await rows.decision(i, utc(2026, 7, 14), q1="nee")
        j = await rows.case(team="oost", corporation="talis", filed_at=utc(2025, 4, 1),
                            phase="gesloten", scenario=1, closed_at=utc(2025, 7, 1),
                            outcome="blijft_betalingsregeling")
        await rows.nazorg(a, 3, date(2026, 10, 11), answered_at=utc(2026, 10, 12), housed=True,
                          paying=True)
        await rows.nazorg(a, 6, date(2027, 1, 11))
        await rows.nazorg(d, 3, date(2026, 9, 10), answered_at=utc(2026, 9, 11), housed=True,
                          paying=False)
        await rows.nazorg(j, 12, date(2026, 7, 1))
        cases = {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g, "h": h, "i": i, "j": j}
    await rebuild_figures(services)  # the rows above bypass the use cases that keep the rollups
    return {name: case.reference for name, case in cases.items()}


def member(services: Services, member_id: str) -> Any:
    found = services.org.member(member_id)
    assert found is not None
    return found


def by_name(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {group["naam"]: group for group in groups}


async def test_totals_match_the_hand_count(services: Services) -> None:
    await build_period_cases(services)
    result = await rapport(services, member(services, "joost"), VAN, TOT)
    data = result.value
    total = data["totaal"]
    assert (data["van"], data["tot"]) == (date(2026, 6, 1), date(2026, 10, 31))
    # A B C E G H I; not D (before), not F (1 Nov in Amsterdam), withdrawn C counts
    assert total["meldingen"] == 7
    # closed in the period: A B C D G I; C (withdrawn) is outside the outcome rates
    assert total["groepen"] == {"voorkomen": 2, "vertrokken": 1, "uitgezet": 2, "ingetrokken": 1}
    assert total["gesloten"] == 5
    assert total["percentage_voorkomen"] == 40
    assert total["uitkomsten"] == {
        "blijft_betalingsregeling": 1, "blijft_laatste_kansovereenkomst": 1,
        "verhuisd_andere_woonvorm": 1, "uitgezet_met_opvang": 1, "uitgezet_zonder_opvang": 1,
        "ingetrokken": 1}
    assert data["redenen_uitzetting"] == {"hennepteelt_drugs": 1, "overlast": 1}
    scenarios = by_name(data["per_scenario"])
    assert scenarios["1"]["groepen"] == {"voorkomen": 2, "vertrokken": 1, "uitgezet": 0,
                                         "ingetrokken": 0}
    assert scenarios["2"]["groepen"]["uitgezet"] == 2
    assert scenarios["geen"]["groepen"]["ingetrokken"] == 1


async def test_lead_times_use_the_decision_that_stands(services: Services) -> None:
    await build_period_cases(services)
    times = (await rapport(services, member(services, "joost"), VAN, TOT)).value["totaal"][
        "doorlooptijden"]
    # melding → besluit: A 10, B 15 (the reopened decision is replaced), G 8, H 7, I 4
    assert times["melding_besluit"] == {"aantal": 5, "mediaan": 8, "p90": 15}
    # besluit → sluiting (closed in period, not withdrawn): A 30, B 60, D 13, G 92, I 90
    assert times["besluit_sluiting"] == {"aantal": 5, "mediaan": 60, "p90": 92}
    # melding → sluiting: A 40, B 75, D 21, G 100, I 94
    assert times["melding_sluiting"] == {"aantal": 5, "mediaan": 75, "p90": 100}


async def test_figures_per_regieteam_corporation_and_category(services: Services) -> None:
    await build_period_cases(services)
    per = (await rapport(services, member(services, "joost"), VAN, TOT)).value["per"]
    teams = by_name(per["regieteam"])
    assert teams["Regieteam Oost"]["meldingen"] == 4  # A B E H
    assert teams["Regieteam West"]["meldingen"] == 3  # C G I
    assert teams["Regieteam Oost"]["groepen"] == {"voorkomen": 1, "vertrokken": 0,
                                                  "uitgezet": 1, "ingetrokken": 0}
    assert teams["Regieteam West"]["groepen"] == {"voorkomen": 1, "vertrokken": 1,
                                                  "uitgezet": 1, "ingetrokken": 1}
    assert teams["Regieteam Oost"]["doorlooptijden"]["melding_besluit"] == {
        "aantal": 3, "mediaan": 10, "p90": 15}  # A 10, B 15, H 7
    corporations = by_name(per["corporatie"])
    assert {k: v["meldingen"] for k, v in corporations.items()} == {
        "Talis": 4, "Portaal": 2, "Woonwaarts": 1}
    assert corporations["Woonwaarts"]["groepen"]["voorkomen"] == 1  # D, filed before the period
    categories = by_name(per["huishouden"])
    assert categories["gezin_met_minderjarige_kinderen"]["meldingen"] == 2  # A G
    assert categories["multiprobleem"]["meldingen"] == 4  # B E G H
    assert categories["senioren"]["meldingen"] == 0
    assert categories["senioren"]["groepen"]["voorkomen"] == 1  # D


async def test_nazorg_and_cost_estimate(services: Services) -> None:
    await build_period_cases(services)
    data = (await rapport(services, member(services, "joost"), VAN, TOT)).value
    assert data["nazorg"] == [
        {"maanden": 3, "gepland": 2, "beantwoord": 2, "woont": 2, "betaalt": 1, "beide": 1},
        {"maanden": 12, "gepland": 1, "beantwoord": 0, "woont": 0, "betaalt": 0, "beide": 0},
    ]
    assert data["kosten"]["voorkomen"] == 2
    assert data["kosten"]["totaal"] == 2 * (7_500_00 + 11_000_00)
    assert data["kosten"]["gezinnen"] == 1  # A


async def test_report_text_is_complete_and_without_personal_data(services: Services) -> None:
    await build_period_cases(services)
    result = await rapport(services, member(services, "joost"), VAN, TOT)
    for fmt in ("plain", "mrkdwn", "html"):
        text = renderer(fmt).render(result.replies[0])
        assert no_personal_data(text)
        assert "&lt;b&gt;" not in text and "&amp;amp;" not in text  # markup escaped once
        for expected in ("Meldingen: 7", "Huisuitzetting voorkomen: 2 (40%)", "Valente",
                         "schatting", "€ 37.000,00", "mediaan 8, 90e percentiel 15",
                         "Regieteam Oost", "Portaal", "gezin met minderjarige kinderen"):
            assert expected in text, (fmt, expected)


async def test_chair_sees_only_their_regieteam(services: Services) -> None:
    await build_period_cases(services)
    data = (await rapport(services, member(services, "carla"), VAN, TOT)).value
    assert data["alles"] is False
    assert data["totaal"]["meldingen"] == 4  # A B E H (Oost)
    assert [g["naam"] for g in data["per"]["regieteam"]] == ["Regieteam Oost"]
    assert data["totaal"]["groepen"] == {"voorkomen": 1, "vertrokken": 0, "uitgezet": 1,
                                         "ingetrokken": 0}


@pytest.mark.parametrize("member_id", ["anna", "dirk", "fatima"])
async def test_others_may_not_ask_for_the_report(services: Services, member_id: str) -> None:
    with pytest.raises(CommandRefused) as refused:
        await rapport(services, member(services, member_id))
    assert refused.value.message.template == "fout/geen_rol"


async def test_default_period_is_the_last_half_year(services: Services) -> None:
    data = (await rapport(services, member(services, "joost"))).value
    assert (data["van"], data["tot"]) == (date(2026, 5, 25), date(2026, 11, 24))


@pytest.mark.parametrize(("van", "tot", "template"), [
    ("31-02-2026", "30-06-2026", "rapport/datum_onjuist"),
    ("gisteren", None, "rapport/datum_onjuist"),
    ("01-07-2026", "01-01-2026", "rapport/periode_omgekeerd"),
    ("01-01-2000", "01-01-2026", "rapport/periode_te_lang"),
])
async def test_bad_periods_are_explained(
    services: Services, van: str, tot: str | None, template: str
) -> None:
    with pytest.raises(CommandRefused) as refused:
        await rapport(services, member(services, "joost"), van, tot)
    assert refused.value.message.template == template
    text = renderer("plain").render(refused.value.message)
    assert "gisteren" not in text
    assert len(text) > 20
