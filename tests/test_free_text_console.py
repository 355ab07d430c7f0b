"""Free text through the console, on SQLite and PostgreSQL: a made-up name typed into every
free-text field never reaches a channel, a thread, the besluitenlijst, the digest or the
stored bytes; it is shown privately to the entitled only, and each view is recorded. Text
that names the household itself is refused with the reason."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from sqlalchemy import select

from bot.console.chat import ConsoleChat
from bot.console.courier import ConsoleCourier
from bot.delivery import Deliveries
from commands.context import Services
from commands.digest import weekly_digest
from commands.replies import Outgoing
from messages.render import renderer
from store.models import Event, Reminder
from tests.conftest import Clock, Database, member
from tests.free_text_support import FIRST, LAST, NAME, assert_not_stored, note, private_view

REF = "RT-2026-0001"
FIELDS = ("reden_anders", "voortraject", "onvoldoende", "stappen_tekst", "besluit_toelichting",
          "afwijking", "heropenen", "terugkoppeling", "uitstel", "sluiten", "opvang")


class RecordingCourier(ConsoleCourier):
    """The console's own courier, keeping what it printed per destination."""

    def __init__(self, services: Services) -> None:
        super().__init__(services, io.StringIO())
        self.delivered: list[tuple[Outgoing, str]] = []

    async def deliver(self, item: Outgoing) -> None:
        self.delivered.append((item, self.board.show(item.message)))
        await super().deliver(item)


async def audited(services: Services, kind: str) -> list[Event]:
    """The audit's events of this kind about the toelichting, in order."""
    async with services.transaction() as session:
        events = (await session.scalars(select(Event).where(Event.kind == kind)
                                        .order_by(Event.id))).all()
    return [e for e in events if (e.data or {}).get("wat") == "toelichting"]


def ams(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour - 1, minute, tzinfo=UTC)  # winter time


def melding_script(voortraject: str) -> list[str]:
    return [
        "/melding", "Oost", "anders", note("reden_anders"), "multiprobleem", "0", "€ 850", "2",
        "", "15-12-2026", "", "", voortraject, note("onvoldoende"), "ja", NAME,
        "Jan Fictief", "Verzonnenstraat 12", "6511 AB",
    ]


class Console:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.courier = RecordingCourier(services)
        self.out = io.StringIO()
        self.chat = ConsoleChat(services, member(services.org, "anna"),
                                Deliveries([self.courier]), io.StringIO(), self.out, admin=True)

    async def run(self, *lines: str) -> str:
        """Type the lines (answers to questions included); return what the console printed."""
        start = self.out.tell()
        self.chat.inp = io.StringIO("\n".join(lines[1:]) + "\n")
        await self.chat.handle_line(lines[0])
        return self.out.getvalue()[start:]

    def shared_text(self) -> str:
        return "\n".join(text for _item, text in self.courier.delivered)


async def test_free_text_stays_out_of_every_shared_message_and_the_database(
    services: Services, database: Database, clock: Clock
) -> None:
    console = Console(services)
    clock.set(ams(11, 19, 10))
    # the melding: the household's own name in the voortraject is refused, the form goes on
    printed = await console.run(*melding_script("Huisbezoek bij familie Fictief gedaan."),
                                note("voortraject"), "ja")
    assert "hier staat de naam van het huishouden" in printed
    assert f"referentie {REF}" in printed

    await console.run("/als carla")
    await console.run("/agenda plaats oost")
    for voter in ("carla", "dirk", "eva"):
        await console.run(f"/als {voter}")
        await console.run(f"/stem {REF} q1 ja")
        await console.run(f"/stem {REF} q3 nee")
    refused = await console.run(f"/stem {REF} q2 huisbezoek Eerst langs bij Verzonnenstraat")
    assert "hier staat de straat van het huishouden" in refused
    await console.run(f"/stem {REF} q2 huisbezoek,buurtteam {note('stappen_tekst')}")

    clock.set(ams(11, 24, 10, 30))
    await console.run("/als carla")
    await console.run(f'/besluit {REF} q1=nee toelichting="{note("besluit_toelichting")}" '
                      f'reden="{note("afwijking")}"')
    await console.run(f'/heropen {REF} "{note("heropenen")}"')
    await console.run(f"/besluit {REF}")
    await console.run("/besluitenlijst oost")
    await console.run(f"/casemanager {REF} dirk 01-03-2027")
    await console.run("/als dirk")
    await console.run(f'/terugkoppeling {REF} "{note("terugkoppeling")}"')
    async with services.transaction() as session:
        reminder_id = await session.scalar(select(Reminder.id).where(
            Reminder.target_member_id == "dirk", Reminder.sent_at.is_(None),
            Reminder.cancelled_at.is_(None)).order_by(Reminder.due_at).limit(1))
    assert reminder_id is not None
    postponed = await console.run(f'/uitstellen {reminder_id} 15-12-2026 "{note("uitstel")}"')
    assert "uitgesteld" in postponed.lower()
    await console.run("/als carla")
    closed = await console.run(f'/sluit {REF} uitgezet_met_opvang "{note("sluiten")}" '
                               f'opvang=crisisopvang opvang_toelichting="{note("opvang")}"')
    assert "afgesloten" in closed
    digest = [renderer("plain").render(item.message) for item in await weekly_digest(services)]

    # nothing typed reached a channel, a thread, a direct message, the besluitenlijst or the digest
    shared = console.shared_text() + "\n".join(digest)
    assert "Besluitenlijst" in shared and "privé te bekijken" in shared and digest
    assert FIRST not in shared and LAST not in shared
    assert_not_stored(database)

    # privately: everything, for the corporation that filed and for a team member
    await console.run("/als anna")
    shown = await console.run(f"/toelichting {REF}")
    for field in FIELDS:
        assert note(field) in shown, field
    await console.run("/als fatima")
    assert note("terugkoppeling") in await console.run(f"/knop toon_toelichting {REF}")
    # not for a member of another Regieteam and corporation
    await console.run("/als bram")
    refusal = await console.run(f"/toelichting {REF}")
    assert "niet zien" in refusal and FIRST not in refusal
    views = await audited(services, "personal_data_viewed")
    assert [(e.actor_id, e.data["deur"], e.data["doel"]) for e in views] == [
        ("anna", "console", "/toelichting"), ("fatima", "console", "knop toon_toelichting")]
    assert [e.actor_id for e in await audited(services, "personal_data_refused")] == ["bram"]


async def test_the_entitled_see_the_toelichting_and_others_do_not(
    services: Services, clock: Clock
) -> None:
    console = Console(services)
    clock.set(ams(11, 19, 10))
    await console.run(*melding_script(note("voortraject")), "ja")
    for member_id in ("anna", "carla", "dirk", "eva", "fatima", "joost"):
        assert note("voortraject") in await private_view(services, member_id, REF), member_id
    for member_id in ("bram", "wendy", "gerrit", "hanna"):
        await console.run(f"/als {member_id}")
        refusal = await console.run(f"/toelichting {REF}")
        assert "Je kunt de toelichting" in refusal and LAST not in refusal, member_id


async def test_household_words_are_refused_in_every_free_text(services: Services, clock: Clock) -> None:
    console = Console(services)
    clock.set(ams(11, 19, 10))
    await console.run(*melding_script(note("voortraject")), "ja")
    await console.run("/als carla")
    await console.run("/agenda plaats oost")
    for voter in ("carla", "dirk", "eva"):
        await console.run(f"/als {voter}")
        await console.run(f"/stem {REF} q1 ja")
        await console.run(f"/stem {REF} q3 nee")
        # the name in another case and accents: "Fíctief" is the same word
        refused = await console.run(f"/stem {REF} q2 huisbezoek Gesprek met de heer Fíctief")
        assert "de naam van het huishouden" in refused
    clock.set(ams(11, 24, 10, 30))
    await console.run("/als carla")
    refused = await console.run(f'/besluit {REF} q1=nee reden="Postcode 6511ab is te ver weg"')
    assert "postcode" in refused and "6511" not in refused  # any postcode is refused
    await console.run(f"/besluit {REF}")
    refused = await console.run(f'/heropen {REF} "Jan wil nog een gesprek"')
    assert "de naam van het huishouden" in refused
    await console.run(f"/casemanager {REF} dirk 01-03-2027")
    await console.run("/als dirk")
    refused = await console.run(f'/terugkoppeling {REF} "Bij Verzonnenstraat 12 niemand thuis"')
    assert "de straat van het huishouden" in refused
    # ordinary words that only look like the name pass: 'januari', 'fictieve'
    accepted = await console.run(f'/terugkoppeling {REF} "In januari een fictieve regeling besproken"')
    assert "opgeslagen" in accepted
    await console.run("/als carla")
    refused = await console.run(f'/sluit {REF} blijft_betalingsregeling "Familie Fictief betaalt weer"')
    assert "de naam van het huishouden" in refused
