"""Forms in Microsoft Teams as Adaptive Cards, over real HTTP with signed tokens against the
fake connector: the casusformulier opened by its text command, a wrong field shown on the
card (updated in place, everything typed kept), then filed; the casemanager form opened from
its button in the channel, sent to the chair's 1:1 chat and completed there."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from bot.teams import TeamsAdapter
from commands.context import Services
from commands.replies import Action
from commands.words import ActionName
from messages import teams as render
from messages.form_texts import FORM_TEXTS
from messages.render import renderer
from store.models import Case
from tests.conftest import Clock
from tests.faketeams import Call, FakeTeams, fake_teams, fill, inputs, teams_bot, teams_deliveries
from tests.helpers import file, valid_answers
from tests.reminders_support import ams, decide, new_case
from tests.test_log_safety import Capture, restore_logging, wide_open_log
from tests.test_teams_flow import OOST, USERS, in_a_channel, in_channel, org

__all__ = ["fake_teams", "org", "restore_logging", "teams_bot", "teams_deliveries",
           "wide_open_log"]  # fixtures

REF = "RT-2026-0001"
PERSONAL = ("Fictief", "Verzonnenstraat", "6511")


def chat(name: str) -> str:
    return f"a:1on1-{USERS[name]}"


def errors(card: dict[str, Any]) -> dict[str, str]:
    return {name: item["errorMessage"] for name, item in inputs(card).items()
            if "errorMessage" in item}


async def submit(fake: FakeTeams, user: str, card_id: str | None, shown: Call,
                 answers: dict[str, Any]) -> Call:
    """Press the submit of the card `shown` (activity `card_id`) in the 1:1 chat; the
    connector's update of that card."""
    card = shown.card
    assert card is not None and card_id
    mark = fake.mark()
    activity = fake.activity(USERS[user], conversation=chat(user), value=fill(card, answers),
                             reply_to=card_id)
    assert await fake.send(activity) == 200
    return await fake.next_call(lambda c: c.method == "PUT" and c.activity == card_id,
                                after=mark)


async def cases(services: Services) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Case)) or 0)


async def test_the_melding_through_its_card(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, clock: Clock,
    wide_open_log: Capture,
) -> None:
    fake = fake_teams
    clock.set(ams(2026, 11, 19, 9))
    mark = fake.mark()
    assert await fake.send(fake.activity(USERS["anna"], "melding", conversation=chat("anna"))) \
        == 200
    opened = await fake.next_call(lambda c: c.card is not None, after=mark)
    assert opened.conversation == chat("anna")
    card = opened.card
    assert card is not None
    fields = inputs(card)
    assert fields["voortraject"]["type"] == "Input.Text" and fields["voortraject"]["isMultiline"]
    assert fields["voortraject"]["maxLength"] == 2000
    assert fields["huishouden"]["type"] == "Input.ChoiceSet"
    assert fields["huishouden"]["isMultiSelect"] is True
    assert fields["zitting"]["type"] == "Input.Date"
    assert fields["minderjarige_kinderen"]["type"] == "Input.Number"
    assert {c["value"] for c in fields["huurder_geinformeerd"]["choices"]} == {"ja", "nee"}
    assert fields["wijk"]["label"] == "Wijk" and fields["wijk"]["isRequired"] is True
    assert fields["vonnis"]["label"].endswith("(optioneel)")
    assert fields["reden_anders"]["label"] == "Andere reden (alleen invullen als je bij " \
        "'Waarom dreigt huisuitzetting?' kiest voor 'anders')"
    assert fields["regieteam"]["label"].endswith("kiest voor 'Centrum' of 'onbekend')")
    assert any(b.get("text", "").startswith("Kies 'onbekend'") for b in card["body"])
    assert card["actions"][0]["data"][render.MARK] == render.FORM

    # an amount far too long and a hearing in the past: the card shows both, typed values kept
    typed = valid_answers(achterstand_bedrag="9" * 5000, dagvaarding="2026-11-02",
                          zitting="2026-11-10")
    updated = await submit(fake, "anna", opened.made, opened, typed)
    again = updated.card
    assert again is not None
    assert set(errors(again)) == {"achterstand_bedrag", "zitting"}
    shown = inputs(again)
    assert shown["achterstand_bedrag"]["value"] == "9" * 5000
    assert shown["huurder_naam"]["value"] == "Jan Fictief"
    assert shown["voortraject"]["value"] == typed["voortraject"]
    assert shown["zitting"]["value"] == "2026-11-10"
    assert shown["huishouden"]["value"] == "gezin_met_minderjarige_kinderen"
    attention = [b["text"] for b in again["body"] if b.get("color") == "attention"]
    assert errors(again)["zitting"] in attention
    assert await cases(services) == 0

    # the card's submit from a channel is not taken (form cards live in 1:1 chats only)
    mark = fake.mark()
    stray = in_channel(fake, "anna", value=fill(again, {}), reply_to=opened.made)
    assert await fake.send(stray) == 200
    assert fake.calls[mark:] == [] and await cases(services) == 0

    # put right on the same card: filed, the card replaced, the Regieteam told without names
    mark = fake.mark()
    done = await submit(fake, "anna", opened.made, updated, {"achterstand_bedrag": "1.234,56",
                                                "zitting": "2026-12-15"})
    assert done.card is None and REF in done.text
    assert await cases(services) == 1
    announcement = await fake.next_call(lambda c: f"Nieuwe melding {REF}" in c.text, after=mark)
    assert announcement.body["channelData"]["channel"]["id"] == OOST
    for call in fake.calls:
        if in_a_channel(call):
            for personal in PERSONAL:
                assert personal not in str(call.body)
    for personal in PERSONAL:
        assert personal not in wide_open_log.text

    # the same card sent twice (a double click) files nothing more
    mark = fake.mark()
    await submit(fake, "anna", opened.made, updated, {"achterstand_bedrag": "1.234,56",
                                         "zitting": "2026-12-15"})
    assert await cases(services) == 1
    assert not any("Nieuwe melding" in c.text for c in fake.calls[mark:])


async def test_the_casemanager_form_from_its_button(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, clock: Clock,
) -> None:
    fake = fake_teams
    clock.set(ams(2026, 11, 24, 10, 30))
    case = await new_case(services)
    await decide(services, case.id)
    button = render.submit_data(Action(ActionName.CASEMANAGER_AANWIJZEN, REF,
                                       "actie.casemanager_aanwijzen"))

    # pressed in the channel: the channel hears only that it went privately
    mark = fake.mark()
    assert await fake.send(in_channel(fake, "carla", value=button)) == 200
    opened = await fake.next_call(lambda c: c.card is not None, after=mark)
    assert opened.conversation == chat("carla")
    said = await fake.next_call(lambda c: in_a_channel(c), after=mark)
    assert "privé" in said.text
    card = opened.card
    assert card is not None
    assert inputs(card)["weken"]["value"] == 4
    assert {c["value"] for c in inputs(card)["casemanager"]["choices"]} >= {"dirk"}

    # a termijn in the past is refused at its field
    updated = await submit(fake, "carla", opened.made, opened, {"casemanager": "dirk",
                                                   "termijn": "2026-11-01"})
    assert updated.card is not None
    assert set(errors(updated.card)) == {"termijn"}
    assert inputs(updated.card)["casemanager"]["value"] == "dirk"

    mark = fake.mark()
    done = await submit(fake, "carla", opened.made, updated, {"termijn": "2027-03-01"})
    assert done.card is None
    told = await fake.next_call(lambda c: c.conversation == chat("dirk") and REF in c.text,
                                after=mark)
    assert "casemanager" in told.text.lower()
    async with services.sessions() as session:
        stored = await session.get(Case, case.id)
    assert stored is not None and stored.casemanager_id == "dirk"


async def test_a_form_a_member_may_not_use_is_refused(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, clock: Clock,
) -> None:
    fake = fake_teams
    clock.set(ams(2026, 11, 24, 10, 30))
    await new_case(services)
    mark = fake.mark()
    assert await fake.send(fake.activity(USERS["dirk"], f"casemanager {REF}",
                                         conversation=chat("dirk"))) == 200
    answer = await fake.next_call(lambda c: True, after=mark)
    assert answer.card is None and "voorzitter" in answer.text


def test_form_wording_is_shared_and_not_slack_s_own() -> None:
    """The Teams card and the Slack modal read the same neutral keys; every one has a text."""
    plain = renderer("plain")
    for name, texts in FORM_TEXTS.items():
        keys = [texts.title, texts.submit,
                *(key for pair in texts.labels.values() for key in pair if key)]
        for key in keys:
            assert not key.startswith("slack."), (name, key)
            assert plain.label(key) != key, (name, key)
        assert texts.intro.startswith("formulier/")
        assert plain.text(texts.intro, referentie=REF)


async def test_questions_that_depend_on_another_answer(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, clock: Clock,
) -> None:
    """The shelter and care-desk questions of "Casus sluiten" only apply after one outcome:
    their label says which, and what was typed in them counts only with that outcome."""
    fake = fake_teams
    clock.set(ams(2026, 11, 24, 10, 30))
    await file(services)  # a family with minor children: reported to Jeugdbescherming
    mark = fake.mark()
    assert await fake.send(fake.activity(USERS["carla"], f"sluit {REF}",
                                         conversation=chat("carla"))) == 200
    opened = await fake.next_call(lambda c: c.card is not None, after=mark)
    card = opened.card
    assert card is not None
    fields = inputs(card)
    with_shelter = "(alleen invullen als je bij 'Uitkomst' kiest voor 'uitgezet met opvang')"
    assert fields["opvang"]["label"] == f"Opvang {with_shelter}"
    assert fields["opvang_toelichting"]["label"].endswith(with_shelter)
    for name in ("gemeld_bij", "gemeld_op"):
        assert fields[name]["label"].endswith("kiest voor 'met onbekende bestemming vertrokken')")
        assert fields[name]["isRequired"] is False
    assert "alleen" not in fields["reden"]["label"] and fields["reden"]["isRequired"] is True
    assert "alleen" not in fields["uitkomst"]["label"]

    typed = {"reden": "De regeling loopt goed en de huur wordt weer betaald.",
             "opvang": "crisisopvang", "opvang_toelichting": "Bij een tante.",
             "gemeld_bij": "jeugdbescherming", "gemeld_op": "2026-11-20"}
    # refused at the outcome (never on the street): everything typed stays on the card
    updated = await submit(fake, "carla", opened.made, opened,
                           {**typed, "uitkomst": "uitgezet_zonder_opvang"})
    assert updated.card is not None and set(errors(updated.card)) == {"uitkomst"}
    kept = inputs(updated.card)
    assert {name: kept[name]["value"] for name in typed} == typed

    # an outcome without shelter: the shelter and the report typed before are left out
    done = await submit(fake, "carla", opened.made, updated,
                        {**typed, "uitkomst": "blijft_betalingsregeling"})
    assert done.card is None
    async with services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.reference == REF))
    assert case is not None and case.phase == "gesloten"
    assert case.outcome == "blijft_betalingsregeling"
    assert case.shelter_kind is None and case.shelter is None


async def test_a_new_termijn_counts_only_when_the_termijn_does_not_hold(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, clock: Clock,
) -> None:
    fake = fake_teams
    clock.set(ams(2026, 11, 24, 10, 30))
    await file(services)
    async with services.transaction() as session:
        case = await session.scalar(select(Case).where(Case.reference == REF))
        assert case is not None
        case.phase, case.casemanager_id, case.termijn = "in_uitvoering", "dirk", date(2027, 2, 24)

    async def feedback(answers: dict[str, Any]) -> date | None:
        mark = fake.mark()
        assert await fake.send(fake.activity(USERS["carla"], f"terugkoppeling {REF}",
                                             conversation=chat("carla"))) == 200
        opened = await fake.next_call(lambda c: c.card is not None, after=mark)
        assert opened.card is not None
        label = inputs(opened.card)["nieuwe_termijn"]["label"]
        assert label.endswith("(alleen invullen als je bij 'Wordt de termijn gehaald?' kiest "
                              "voor 'nee')")
        done = await submit(fake, "carla", opened.made, opened, answers)
        assert done.card is None
        async with services.sessions() as session:
            stored = await session.scalar(select(Case).where(Case.reference == REF))
        assert stored is not None
        return stored.termijn

    # the termijn holds: a new termijn typed in anyway is left out
    assert await feedback({"tekst": "De betalingsregeling loopt.", "termijn_houdt": "ja",
                           "nieuwe_termijn": "2027-04-01"}) == date(2027, 2, 24)
    # it does not hold: the chair's new termijn is taken
    assert await feedback({"tekst": "Het loopt langer dan gedacht.", "termijn_houdt": "nee",
                           "nieuwe_termijn": "2027-04-01"}) == date(2027, 4, 1)
