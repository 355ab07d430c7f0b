"""Free text through Telegram, against the fake Bot API server: a made-up name typed into every
free-text question (melding, Q2 note, the chair's reason, terugkoppeling, postpone reason,
shelter and closing reason) never reaches the Regieteam group, its topic or the corporation's
group, and is not readable in the database. /toelichting answers in the private chat, for
the entitled only; typed in the group, the group hears only that it went privately."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.telegram import TelegramAdapter
from commands.context import Services
from commands.organisation import Organisation, load_organisation
from commands.reminders import reminder_outgoing
from messages.render import renderer
from store.models import Case, Event, Reminder
from tests.conftest import EXAMPLE_ORG, Clock, Database
from tests.faketelegram import Call, FakeTelegram
from tests.free_text_support import FIRST, LAST, NAME, assert_not_stored, note
from tests.test_log_safety import Capture, restore_logging, wide_open_log

__all__ = ["restore_logging", "wide_open_log"]  # fixtures: every log line, at DEBUG

ANNA, BRAM, CARLA, DIRK, EVA = 5001, 5002, 5003, 5004, 5005
OOST, TALIS = -1001002, -1001001
REF = "RT-2026-0001"


@pytest.fixture
def org(tmp_path: Path) -> Organisation:
    """The example organisation, with Bram (Portaal, Regieteam West) on Telegram too."""
    text = EXAMPLE_ORG.read_text().replace(
        "regieteams: [west], slack_user: U0BRAM}", "regieteams: [west], slack_user: U0BRAM, "
        f"telegram_user: {BRAM}}}")
    path = tmp_path / "org.yaml"
    path.write_text(text)
    return load_organisation(path)


@pytest.fixture
def telegram_forums() -> tuple[int, ...]:
    return (OOST,)


def question(name: str) -> str:
    return f"<b>{renderer('html').label('veld.' + name)}</b>"


async def say(fake_telegram: FakeTelegram, user: int, text: str, expect: str,
              chat: int | None = None) -> Call:
    mark = fake_telegram.mark()
    fake_telegram.send_text(user, text, chat_id=chat)
    return await fake_telegram.next_call("sendMessage", chat or user, after=mark, contains=expect)


async def tap(fake_telegram: FakeTelegram, user: int, call: Call, button: str, expect: str,
              chat: int | None = None) -> Call:
    mark = fake_telegram.mark()
    fake_telegram.tap(user, call, button)
    return await fake_telegram.next_call("sendMessage", chat or user, after=mark, contains=expect)


async def file_melding(fake_telegram: FakeTelegram) -> None:
    step = await say(fake_telegram, ANNA, "/melding", question("wijk"))
    step = await tap(fake_telegram, ANNA, step, "Oost", question("reden"))
    step = await tap(fake_telegram, ANNA, step, "anders", question("reden_anders"))
    step = await say(fake_telegram, ANNA, note("reden_anders"), question("huishouden"))
    step = await fake_telegram.pick(ANNA, step, "multiprobleem", question("minderjarige_kinderen"))
    step = await say(fake_telegram, ANNA, "0", question("achterstand_bedrag"))
    step = await say(fake_telegram, ANNA, "1.234,56", question("achterstand_maanden"))
    step = await say(fake_telegram, ANNA, "3", question("dagvaarding"))
    step = await say(fake_telegram, ANNA, "01-12-2026", question("zitting"))
    step = await say(fake_telegram, ANNA, "15-12-2026", question("vonnis"))
    step = await tap(fake_telegram, ANNA, step, "Overslaan", question("ontruiming"))
    step = await tap(fake_telegram, ANNA, step, "Overslaan", question("voortraject"))
    # the household's own name: accepted here, refused once the name is known
    step = await say(fake_telegram, ANNA, "Twee keer huisbezoek bij Fictief gedaan.", question("onvoldoende"))
    step = await say(fake_telegram, ANNA, note("onvoldoende"), question("huurder_geinformeerd"))
    step = await tap(fake_telegram, ANNA, step, "ja", question("contactpersoon"))
    step = await say(fake_telegram, ANNA, NAME, question("huurder_naam"))
    step = await say(fake_telegram, ANNA, "Jan Fictief", question("adres"))
    step = await say(fake_telegram, ANNA, "Verzonnenstraat 12", question("postcode"))
    mark = fake_telegram.mark()
    fake_telegram.send_text(ANNA, "6511 ab")
    await fake_telegram.next_call("sendMessage", ANNA, after=mark, contains="de naam van het huishouden")
    await fake_telegram.next_call("sendMessage", ANNA, after=mark, contains=question("voortraject"))
    summary = await say(fake_telegram, ANNA, note("voortraject"), "Controleer je melding")
    await tap(fake_telegram, ANNA, summary, "Indienen", REF)
    await fake_telegram.next_call("sendMessage", OOST, contains=f"Nieuwe melding {REF}")


async def test_free_text_stays_out_of_the_groups_on_telegram(
    services: Services, fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter, database: Database,
    clock: Clock, wide_open_log: Capture,
) -> None:
    clock.set(clock.moment.replace(day=19, hour=9))  # Thursday before the meeting
    await file_melding(fake_telegram)

    agenda = await say(fake_telegram, CARLA, "/agenda", REF, chat=OOST)
    case_message = await tap(fake_telegram, CARLA, agenda, "Agenda plaatsen", "Stem hieronder", chat=OOST)
    assert "Toon toelichting" in str(case_message.buttons())
    for user in (CARLA, DIRK, EVA):
        await fake_telegram.answer_to(fake_telegram.tap(user, case_message, "1: ja"))
        await fake_telegram.answer_to(fake_telegram.tap(user, case_message, "3: MBZ nee"))
    steps = await tap(fake_telegram, EVA, case_message, "2: stappen kiezen", "Welke stappen")
    toelichting = await fake_telegram.pick(EVA, steps, "huisbezoek", "Toelichting")
    await say(fake_telegram, EVA, note("stappen_tekst"), REF)

    # the chair departs from the majority, with a reason
    clock.set(clock.moment.replace(day=24, hour=9, minute=30))
    how = await tap(fake_telegram, CARLA, case_message, "Besluit vastleggen", "Hoe leg je")
    step = await tap(fake_telegram, CARLA, how, "Anders besluiten", "Vraag 1")
    step = await tap(fake_telegram, CARLA, step, "nee", "Vraag 2")
    step = await fake_telegram.pick(CARLA, step, "huisbezoek", "Vraag 3")
    step = await tap(fake_telegram, CARLA, step, "nee", "Waarom wijkt")
    confirmation = await say(fake_telegram, CARLA, note("afwijking"), "Volgende stap")
    who = await tap(fake_telegram, CARLA, confirmation, "Casemanager aanwijzen", "Wie wordt")
    step = await tap(fake_telegram, CARLA, who, "Dirk", "termijn")
    weeks = await say(fake_telegram, CARLA, "01-03-2027", "weken")
    mark = fake_telegram.mark()
    fake_telegram.tap(CARLA, weeks, "Overslaan")
    for_dirk = await fake_telegram.next_call("sendMessage", DIRK, after=mark, contains=REF)

    # the casemanager postpones a reminder and gives terugkoppeling
    async with services.transaction() as session:
        case = await session.scalar(select(Case).where(Case.reference == REF))
        reminder = await session.scalar(select(Reminder).where(
            Reminder.target_member_id == "dirk").order_by(Reminder.due_at))
    assert case is not None and reminder is not None
    mark = fake_telegram.mark()
    await telegram_bot.deliveries.deliver(reminder_outgoing(services, reminder, case))
    sent = await fake_telegram.next_call("sendMessage", DIRK, after=mark)
    await tap(fake_telegram, DIRK, sent, "uitstellen", "Tot wanneer")
    await say(fake_telegram, DIRK, "15-12-2026", "Waarom")
    await say(fake_telegram, DIRK, note("uitstel"), "uitgesteld")
    await tap(fake_telegram, DIRK, for_dirk, "Terugkoppeling geven", "stand van zaken")
    condition = await say(fake_telegram, DIRK, note("terugkoppeling"), "Voorwaarde 1 van")
    holds = await tap(fake_telegram, DIRK, condition, "De rest zo laten", "termijn")
    mark = fake_telegram.mark()
    fake_telegram.tap(DIRK, holds, "ja")
    in_thread = await fake_telegram.next_call("sendMessage", OOST, after=mark, contains=REF)
    assert "privé te bekijken" in in_thread.text and in_thread.button("Toon toelichting")

    # the chair closes the case, with the shelter and a reason
    actions = await say(fake_telegram, CARLA, f"/status {REF}", "Wat wil je doen")
    outcome = await tap(fake_telegram, CARLA, actions, "Casus sluiten", "Hoe is de casus")
    shelter = await tap(fake_telegram, CARLA, outcome, "uitgezet met opvang", "Welke opvang")
    shelter_note = await tap(fake_telegram, CARLA, shelter, "crisisopvang", "opvang toelichten")
    await say(fake_telegram, CARLA, note("opvang"), "Korte toelichting")
    assert shelter_note
    assert shelter
    mark = fake_telegram.mark()
    fake_telegram.send_text(CARLA, note("sluiten"))
    await fake_telegram.next_call("sendMessage", OOST, after=mark, contains="is afgesloten")

    # nothing typed went to a group, a topic or an edited message there
    group_calls = [c for c in fake_telegram.calls if (c.chat_id or 0) < 0]
    assert any("privé te bekijken" in c.text for c in group_calls)
    for call in group_calls:
        assert FIRST not in call.text and LAST not in call.text, call.method
    assert_not_stored(database)

    # /toelichting in the group: the chair gets it privately, the group only hears that
    mark = fake_telegram.mark()
    fake_telegram.send_text(CARLA, f"/toelichting {REF}", chat_id=OOST)
    private = await fake_telegram.next_call("sendMessage", CARLA, after=mark, contains="Toelichting")
    await fake_telegram.next_call("sendMessage", OOST, after=mark, contains="privé")
    for field in ("reden_anders", "voortraject", "onvoldoende", "stappen_tekst", "afwijking",
                  "terugkoppeling", "uitstel", "sluiten", "opvang"):
        assert note(field) in private.text, field
    # the button in the topic, for the corporation that filed
    mark = fake_telegram.mark()
    fake_telegram.tap(ANNA, case_message, "Toon toelichting")
    shown = await fake_telegram.next_call("sendMessage", ANNA, after=mark, contains="Toelichting")
    assert note("voortraject") in shown.text
    # not for a member of another Regieteam and another corporation
    refusal = await say(fake_telegram, BRAM, f"/toelichting {REF}", "Je kunt de toelichting")
    assert FIRST not in refusal.text
    in_groups = [c for c in fake_telegram.calls if (c.chat_id or 0) < 0]
    assert all(FIRST not in c.text and LAST not in c.text for c in in_groups)
    async with services.transaction() as session:
        views = (await session.scalars(select(Event).where(
            Event.kind == "personal_data_viewed").order_by(Event.id))).all()
    assert [(e.actor_id, e.data["deur"], e.data["doel"]) for e in views
            if e.data.get("wat") == "toelichting"] == [
        ("carla", "telegram", "/status"),  # /status sent her the terugkoppeling privately
        ("carla", "telegram", "/toelichting"), ("anna", "telegram", "knop toon_toelichting")]
    assert toelichting
    # and in no log line, at DEBUG with every level cap taken away
    for part in (FIRST, LAST):
        assert part.lower() not in wide_open_log.text.lower(), f"{part} in the log"
