"""The never-on-the-street rule cannot be bypassed: shelter is a choice, a protected household
that leaves for an unknown destination is reported, corrections count at once, and the
console and a close after reopening go through the same rule."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.console.chat import ConsoleChat
from bot.console.courier import ConsoleCourier
from bot.delivery import Deliveries
from commands import agenda, besluit, casemanager, huishouden, sluiten, stemmen
from commands.context import Services
from commands.replies import CommandRefused
from messages.render import renderer
from store.models import Case, Event, HouseholdCorrection, Reminder
from tests.conftest import Clock, member
from tests.helpers import file

REASON = "Het vonnis is uitgevoerd."
NOT_SHELTER = ("nvt", "NVT", "geen", "-", "", "   ", "n.v.t.", "De Haven")


def at(month: int, day: int, hour: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour - 1, tzinfo=UTC)  # Amsterdam winter time


async def refused(coro: object, *words: str) -> str:
    with pytest.raises(CommandRefused) as caught:
        await coro  # type: ignore[misc]
    text = renderer("plain").render(caught.value.message)
    for word in words:
        assert word in text, text
    return text


async def the_case(services: Services, reference: str) -> Case:
    async with services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        return case


async def kinds(services: Services) -> list[str]:
    async with services.sessions() as session:
        return list((await session.scalars(select(Event.kind).order_by(Event.id))).all())


async def filed(services: Services, clock: Clock, **changes: object) -> str:
    clock.set(at(11, 19, 10))
    return str((await file(services, "anna", **changes)).value)


# --- the rule in the command ---------------------------------------------------------------


@pytest.mark.parametrize("word", NOT_SHELTER)
async def test_a_free_word_is_never_shelter(services: Services, clock: Clock, word: str) -> None:
    ref = await filed(services, clock)
    carla = member(services.org, "carla")
    await refused(sluiten.close_case(services, carla, ref, "uitgezet_met_opvang", REASON, shelter=word),
                  "opvang")
    await refused(sluiten.close_case(services, carla, ref, "uitgezet_met_opvang", REASON,
                                     shelter=None, shelter_note="Gezinsopvang De Haven"), "opvang")
    assert (await the_case(services, ref)).phase != "gesloten"


async def test_shelter_choice_and_note_are_stored(services: Services, clock: Clock) -> None:
    ref = await filed(services, clock)
    carla = member(services.org, "carla")
    await refused(sluiten.close_case(services, carla, ref, "uitgezet_met_opvang", REASON,
                                     shelter="crisisopvang", shelter_note="bel 06-12345678"),
                  "telefoonnummer")
    result = await sluiten.close_case(services, carla, ref, "uitgezet_met_opvang", REASON,
                                      shelter="Familie of vrienden", shelter_note="Bij een tante.")
    case = await the_case(services, ref)
    assert (case.phase, case.shelter_kind, services.cipher.decrypt_optional(case.shelter)) == (
        "gesloten", "familie_vrienden", "Bij een tante.")
    shown = renderer("plain").render(result.replies[0])
    assert "familie of vrienden" in shown
    # the shared messages carry the choice, never the note
    for outgoing in result.outgoing:
        assert "tante" not in renderer("plain").render(outgoing.message)


async def test_every_shelter_choice_is_accepted(services: Services, clock: Clock) -> None:
    carla = member(services.org, "carla")
    for shelter in sluiten.SHELTERS:
        ref = await filed(services, clock)
        await sluiten.close_case(services, carla, ref, "uitgezet_met_opvang", REASON, shelter=shelter)
        assert (await the_case(services, ref)).shelter_kind == shelter
        assert renderer("plain").label(f"opvang.{shelter}") != f"opvang.{shelter}"


async def test_left_unknown_needs_a_report_for_children(services: Services, clock: Clock) -> None:
    ref = await filed(services, clock)
    carla = member(services.org, "carla")
    left = "vertrokken_onbekend"
    await refused(sluiten.close_case(services, carla, ref, left, REASON), "Jeugdbescherming")
    await refused(sluiten.close_case(services, carla, ref, left, REASON, reported_to="jeugdbescherming"),
                  "datum")
    await refused(sluiten.close_case(services, carla, ref, left, REASON, reported_to="mbz",
                                     reported_on="19-11-2026"), "Jeugdbescherming")
    await refused(sluiten.close_case(services, carla, ref, left, REASON,
                                     reported_to="jeugdbescherming", reported_on="20-11-2026"),
                  "vandaag")
    await refused(sluiten.close_case(services, carla, ref, left, REASON,
                                     reported_to="politie", reported_on="19-11-2026"), "kies")
    assert (await the_case(services, ref)).phase != "gesloten"

    result = await sluiten.close_case(services, carla, ref, left, REASON,
                                      reported_to="jeugdbescherming", reported_on="19-11-2026")
    case = await the_case(services, ref)
    assert case.phase == "gesloten" and case.reported_to == "jeugdbescherming"
    assert case.reported_on is not None and case.reported_on.isoformat() == "2026-11-19"
    assert "care_reported" in await kinds(services)
    # the coordinator hears it at once, privately, with the facts only
    to_coordinator = [o for o in result.outgoing if o.to.kind == "member" and o.to.id == "joost"]
    assert len(to_coordinator) == 1
    text = renderer("plain").render(to_coordinator[0].message)
    assert ref in text and "Jeugdbescherming" in text and "19 nov" in text
    assert "Jan Fictief" not in text and "Verzonnenstraat" not in text and REASON not in text


async def test_left_unknown_kwetsbaar_goes_to_the_meldpunt(services: Services, clock: Clock) -> None:
    ref = await filed(services, clock, huishouden=["kwetsbaar"], minderjarige_kinderen="0")
    carla = member(services.org, "carla")
    await refused(sluiten.close_case(services, carla, ref, "vertrokken_onbekend", REASON),
                  "Meldpunt Bijzondere Zorg")
    await sluiten.close_case(services, carla, ref, "vertrokken_onbekend", REASON,
                             reported_to="Meldpunt", reported_on="19-11-2026")
    assert (await the_case(services, ref)).reported_to == "mbz"


async def test_left_unknown_unprotected_needs_no_report(services: Services, clock: Clock) -> None:
    ref = await filed(services, clock, huishouden=["woonoverlast"], minderjarige_kinderen="0")
    result = await sluiten.close_case(services, member(services.org, "carla"), ref,
                                      "vertrokken_onbekend", REASON)
    assert not [o for o in result.outgoing if o.to.id == "joost"]
    assert "care_reported" not in await kinds(services)


# --- corrections and the current organisation file -----------------------------------------


async def test_children_added_after_filing_make_the_household_protected(
    services: Services, clock: Clock
) -> None:
    ref = await filed(services, clock, huishouden=["woonoverlast"], minderjarige_kinderen="0")
    anna, carla, dirk = (member(services.org, m) for m in ("anna", "carla", "dirk"))
    await refused(huishouden.correct_household(services, dirk, ref, children="2", reason="Twee kinderen."),
                  "melder")
    await refused(huishouden.correct_household(services, anna, ref, children="2"), "waarom")
    await refused(huishouden.correct_household(services, anna, ref, reason="Twee kinderen."),
                  "Wat wil je corrigeren")
    await refused(huishouden.correct_household(services, anna, ref, categories="onbekend",
                                               reason="Twee kinderen."), "kies")
    await refused(huishouden.correct_household(services, anna, ref,
                                               categories="gezin_met_minderjarige_kinderen",
                                               reason="Gezin bij huisbezoek."), "0 kinderen")
    result = await huishouden.correct_household(
        services, anna, ref, categories="gezin_met_minderjarige_kinderen,woonoverlast", children="2",
        reason="Bij het huisbezoek bleken er twee kinderen te zijn.")
    assert "nooit op straat" in renderer("plain").render(result.replies[0])
    for outgoing in result.outgoing:
        assert "huisbezoek" not in renderer("plain").render(outgoing.message)
    await refused(sluiten.close_case(services, carla, ref, "uitgezet_zonder_opvang", REASON),
                  "nooit op straat")
    await refused(sluiten.close_case(services, carla, ref, "vertrokken_onbekend", REASON),
                  "Jeugdbescherming")

    case = await the_case(services, ref)
    assert sorted(case.category_names) == ["gezin_met_minderjarige_kinderen", "woonoverlast"]
    assert case.minor_children == 2
    async with services.sessions() as session:
        correction = await session.scalar(select(HouseholdCorrection))
        event = await session.scalar(select(Event).where(Event.kind == "household_corrected"))
    assert correction is not None and event is not None
    assert (correction.children_before, correction.children_after) == (0, 2)
    assert b"huisbezoek" not in correction.reason  # encrypted
    assert services.cipher.decrypt(correction.reason).startswith("Bij het huisbezoek")
    assert event.actor_id == "anna" and event.data["kinderen"] == 2 and event.data["beschermd"]
    assert "huisbezoek" not in str(event.data)


async def test_chair_corrects_and_a_same_correction_changes_nothing(
    services: Services, clock: Clock
) -> None:
    ref = await filed(services, clock)
    carla, gerrit = member(services.org, "carla"), member(services.org, "gerrit")
    await refused(huishouden.correct_household(services, gerrit, ref, children="3",
                                               reason="Drie kinderen."), "voorzitter")
    await huishouden.correct_household(services, carla, ref, children="3", reason="Drie kinderen.")
    again = await huishouden.correct_household(services, carla, ref, children="3",
                                               reason="Drie kinderen.")
    assert "niets veranderd" in renderer("plain").render(again.replies[0])
    assert (await the_case(services, ref)).minor_children == 3
    assert (await kinds(services)).count("household_corrected") == 1


async def test_protected_follows_the_current_protected_categories(
    services: Services, clock: Clock
) -> None:
    ref = await filed(services, clock, huishouden=["senioren"], minderjarige_kinderen="0")
    carla = member(services.org, "carla")
    rules = services.org.rules.model_copy(
        update={"protected_categories": (*services.org.rules.protected_categories, "senioren")})
    services.org = services.org.model_copy(update={"rules": rules})
    await refused(sluiten.close_case(services, carla, ref, "uitgezet_zonder_opvang", REASON),
                  "nooit op straat")
    await refused(sluiten.close_case(services, carla, ref, "vertrokken_onbekend", REASON),
                  "Meldpunt Bijzondere Zorg")


async def test_kwetsbaar_removed_again_is_no_longer_protected(services: Services, clock: Clock) -> None:
    ref = await filed(services, clock, huishouden=["kwetsbaar"], minderjarige_kinderen="0")
    carla = member(services.org, "carla")
    await refused(sluiten.close_case(services, carla, ref, "uitgezet_zonder_opvang", REASON),
                  "nooit op straat")
    await huishouden.correct_household(services, carla, ref, categories=["woonoverlast"],
                                       reason="Verkeerd aangeklikt bij de melding.")
    await sluiten.close_case(services, carla, ref, "uitgezet_zonder_opvang", REASON)
    assert (await the_case(services, ref)).outcome == "uitgezet_zonder_opvang"


# --- reopening, then closing ----------------------------------------------------------------


async def test_reopen_then_close_goes_through_the_rule(services: Services, clock: Clock) -> None:
    ref = await filed(services, clock)
    org = services.org
    carla = member(org, "carla")
    await agenda.post_agenda(services, carla, "oost")
    for voter in ("carla", "dirk", "eva"):
        await stemmen.cast_vote(services, member(org, voter), ref, "q1", "nee")
        await stemmen.cast_vote(services, member(org, voter), ref, "q3", "nee")
    clock.set(at(11, 24, 11))
    await besluit.record_decision(services, carla, ref)
    await besluit.reopen_decision(services, carla, ref, "Nieuwe informatie van de corporatie.")
    assert (await the_case(services, ref)).phase == "op_agenda"
    await refused(sluiten.close_case(services, carla, ref, "uitgezet_zonder_opvang", REASON),
                  "nooit op straat")
    for word in ("nvt", "geen", ""):
        await refused(sluiten.close_case(services, carla, ref, "uitgezet_met_opvang", REASON,
                                         shelter=word), "opvang")
    await refused(sluiten.close_case(services, carla, ref, "vertrokken_onbekend", REASON),
                  "Jeugdbescherming")
    await sluiten.close_case(services, carla, ref, "uitgezet_met_opvang", REASON, shelter="crisisopvang")
    # a closed case cannot be reopened to close it again differently
    await refused(besluit.reopen_decision(services, carla, ref, "Toch anders afsluiten."), ref)
    await refused(sluiten.close_case(services, carla, ref, "uitgezet_zonder_opvang", REASON),
                  "al afgesloten")
    assert (await the_case(services, ref)).outcome == "uitgezet_met_opvang"


# --- the console door -------------------------------------------------------------------------


async def console(services: Services, member_id: str, lines: list[str]) -> str:
    out = io.StringIO()
    deliveries = Deliveries()
    deliveries.add(ConsoleCourier(services, out))
    found = member(services.org, member_id)
    chat = ConsoleChat(services, found, deliveries, io.StringIO(""), out)
    for line in lines:
        await chat.handle_line(line)
    return out.getvalue()


async def test_console_door(services: Services, clock: Clock) -> None:
    ref = await filed(services, clock, huishouden=["woonoverlast"], minderjarige_kinderen="0")
    output = await console(services, "carla", [
        f'/sluit {ref} uitgezet_met_opvang "{REASON}" opvang=nvt',
        f'/sluit {ref} uitgezet_met_opvang "{REASON}" opvang=geen',
        f'/sluit {ref} uitgezet_met_opvang "{REASON}" opvang=',
        f'/sluit {ref} uitgezet_met_opvang "{REASON}"',
        f'/huishouden {ref} kinderen=1 categorieen=gezin_met_minderjarige_kinderen '
        f'reden="Er woont een kind van 4."',
        f'/sluit {ref} uitgezet_zonder_opvang "{REASON}"',
        f'/sluit {ref} vertrokken_onbekend "{REASON}"',
    ])
    assert output.count("'nvt' of 'geen' tellen niet als opvang") == 2, output
    assert output.count("Bij 'uitgezet met opvang' hoort de opvang") == 2, output
    assert "huishouden gecorrigeerd" in output
    assert "nooit op straat" in output
    assert "meld het dan eerst bij Jeugdbescherming" in output
    assert "Er woont een kind" not in output.split("huishouden gecorrigeerd", 1)[1]
    assert (await the_case(services, ref)).phase != "gesloten"

    closed = await console(services, "carla", [
        f'/sluit {ref} vertrokken_onbekend "{REASON}" gemeld_bij=jeugdbescherming gemeld_op=19-11-2026',
    ])
    assert f"{ref} is afgesloten" in closed
    assert "── privébericht aan Joost van Dam ──" in closed
    case = await the_case(services, ref)
    assert case.outcome == "vertrokken_onbekend" and case.reported_to == "jeugdbescherming"


async def test_console_usage_for_household(services: Services, clock: Clock) -> None:
    output = await console(services, "anna", ["/huishouden"])
    assert "/huishouden RT-2026-0001" in output


def test_typed_closing_words() -> None:
    typed = sluiten.closing_from_words(sluiten.split_words(
        'uitgezet_met_opvang Zo\'n gezin kan bij m\'n zus. opvang: familie of vrienden '
        'opvang_toelichting="Tijdelijk, drie maanden."'))
    assert typed.outcome == "uitgezet_met_opvang"
    assert typed.reason == "Zo'n gezin kan bij m'n zus."
    assert sluiten.parse_shelter(typed.shelter) == "familie_vrienden"
    assert typed.shelter_note == "Tijdelijk, drie maanden."
    report = sluiten.closing_from_words(sluiten.split_words(
        "vertrokken_onbekend Onbekend waarheen. gemeld_bij=Jeugdbescherming gemeld_op=1-12-2026"))
    assert (report.reported_to, report.reported_on) == ("Jeugdbescherming", "1-12-2026")
    for word in ("nvt", "geen", "-", "n.v.t", "onbekend", "straat"):
        with pytest.raises(CommandRefused):
            sluiten.parse_shelter(word)


async def test_children_added_in_scenario_two_start_the_jeugdbescherming_series(
    services: Services, clock: Clock
) -> None:
    ref = await filed(services, clock, huishouden=["woonoverlast"], minderjarige_kinderen="0")
    org = services.org
    carla = member(org, "carla")
    await agenda.post_agenda(services, carla, "oost")
    for voter in ("carla", "dirk", "eva"):
        await stemmen.cast_vote(services, member(org, voter), ref, "q1", "nee")
        await stemmen.cast_vote(services, member(org, voter), ref, "q3", "nee")
    clock.set(at(11, 24, 11))
    await besluit.record_decision(services, carla, ref)
    await casemanager.appoint(services, carla, ref, "dirk", "01-02-2027", 2)

    async def series() -> list[str]:
        async with services.sessions() as session:
            return list((await session.scalars(select(Reminder.kind).where(
                Reminder.kind == "jeugdbescherming"))).all())

    assert await series() == []
    await huishouden.correct_household(services, carla, ref, children=1,
                                       categories="gezin_met_minderjarige_kinderen",
                                       reason="Er woont een kind van vier.")
    assert await series()
