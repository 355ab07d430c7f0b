"""The case-work forms defined once (commands/forms.py), walked one question at a time
(commands/walker.py): back, cancel, an early check that keeps what was typed, and every form
opened from its button in the console and completed."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from sqlalchemy import select

from bot.console.chat import ConsoleChat
from bot.delivery import Deliveries
from commands import agenda, stemmen
from commands.context import Services
from commands.forms import FORM_BUTTONS, FORMS
from commands.walker import Walker
from commands.words import ActionName
from store.models import Case, Decision, Feedback, Reminder, Vote
from tests.conftest import Clock, member
from tests.helpers import file


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour - 1, minute, tzinfo=UTC)


async def on_the_agenda(services: Services, clock: Clock) -> str:
    clock.set(at(2026, 11, 19, 10))
    ref = str((await file(services, "anna")).value)
    org = services.org
    await agenda.post_agenda(services, member(org, "carla"), "oost")
    for voter in ("carla", "dirk", "eva"):
        await stemmen.cast_vote(services, member(org, voter), ref, "q1", "ja")
        await stemmen.cast_vote(services, member(org, voter), ref, "q3", "nee")
    clock.set(at(2026, 11, 24, 10, 30))
    return ref


def test_every_opening_button_has_one_form() -> None:
    assert FORM_BUTTONS == {
        ActionName.STAPPEN_KIEZEN: "stappen", ActionName.BESLUIT_VASTLEGGEN: "besluit",
        ActionName.CASEMANAGER_AANWIJZEN: "casemanager",
        ActionName.TERUGKOPPELING_GEVEN: "terugkoppeling", ActionName.SLUITEN: "sluiten",
        ActionName.HERINNERING_UITSTELLEN: "uitstellen"}
    assert set(FORMS) == {*FORM_BUTTONS.values(), "huishouden", "melding"}


async def test_walker_back_and_early_check_keeps_typed_input(services: Services,
                                                             clock: Clock) -> None:
    ref = await on_the_agenda(services, clock)
    carla = member(services.org, "carla")
    from commands.besluit import record_decision

    await record_decision(services, carla, ref)
    walker = await Walker.start(services, carla, "casemanager", ref)
    assert walker.current() is not None and walker.current().name == "casemanager"  # type: ignore[union-attr]
    assert walker.back() is False  # the first question: nothing to go back to
    assert walker.answer(walker.interpret("dirk", {})) is None
    assert walker.current().name == "termijn"  # type: ignore[union-attr]
    problem = walker.answer("01-01-2026")  # in the past: refused at once, before submitting
    assert problem is not None and problem.template == "fout/termijn_verleden"
    assert walker.current().name == "termijn"  # type: ignore[union-attr]
    assert walker.typed("termijn") == "01-01-2026"
    assert walker.answers["casemanager"] == "dirk"
    assert walker.back() is True and walker.current().name == "casemanager"  # type: ignore[union-attr]
    assert walker.answer(walker.interpret("Dirk", {})) is None
    assert walker.current().name == "termijn"  # type: ignore[union-attr]
    assert walker.answer("24-02-2027") is None
    assert walker.skip() is None and walker.finished
    result = await walker.submit()
    assert result.outgoing
    async with services.sessions() as session:
        case = await session.scalar(select(Case))
        assert case is not None and case.phase == "in_uitvoering"


async def test_choice_by_label_case_and_accent_insensitive(services: Services,
                                                           clock: Clock) -> None:
    ref = await on_the_agenda(services, clock)
    eva = member(services.org, "eva")
    walker = await Walker.start(services, eva, "stappen", ref)
    labels = {"schuldhulpverlening": "Schuldhulpverlening", "huisbezoek": "Huisbezoek"}
    assert walker.interpret("SCHULDHULPVERLENING, huisbezóek", labels) == [
        "schuldhulpverlening", "huisbezoek"]


class Script:
    """A console chat in the test's own event loop, reading the answers given."""

    def __init__(self, services: Services, who: str) -> None:
        self.out = io.StringIO()
        self.chat = ConsoleChat(services, member(services.org, who), Deliveries(),
                                io.StringIO(""), self.out)

    async def run(self, line: str, *answers: str) -> str:
        self.chat.inp = io.StringIO("".join(f"{a}\n" for a in answers))
        start = self.out.tell()
        await self.chat.handle_line(line)
        return self.out.getvalue()[start:]


async def test_every_form_opens_from_its_button_in_the_console(services: Services,
                                                               clock: Clock) -> None:
    ref = await on_the_agenda(services, clock)
    org = services.org

    eva = Script(services, "eva")
    said = await eva.run(f"/knop stappen_kiezen {ref}", "schuldhulpverlening, huisbezoek", "")
    assert "Welke stappen" in said
    async with services.sessions() as session:
        votes = (await session.scalars(select(Vote).where(Vote.question == "q2"))).all()
        assert [v.steps for v in votes] == [["schuldhulpverlening", "huisbezoek"]]

    carla = Script(services, "carla")
    cancelled = await carla.run(f"/knop besluit_vastleggen {ref}", "/annuleer")
    assert "Gestopt" in cancelled
    said = await carla.run(f"/knop besluit_vastleggen {ref}", "anders", "/terug", "meerderheid")
    assert "Volgende stap" in said and "[Casemanager aanwijzen] /knop " in said
    async with services.sessions() as session:
        assert len((await session.scalars(select(Decision))).all()) == 1

    said = await carla.run(f"/knop casemanager_aanwijzen {ref}", "Dirk", "01-03-2026",
                           "24-02-2027", "")
    assert said.count("Wat is de termijn") == 2  # in the past: asked again at once
    async with services.sessions() as session:
        case = await session.scalar(select(Case))
        assert case is not None and case.casemanager_id == "dirk"
        reminder = await session.scalar(select(Reminder).where(
            Reminder.sent_at.is_(None), Reminder.cancelled_at.is_(None),
            Reminder.due_at > datetime(2026, 12, 23)).order_by(Reminder.due_at))
        assert reminder is not None

    clock.set(at(2026, 12, 22, 9))
    dirk = Script(services, "dirk")
    said = await dirk.run(f"/knop terugkoppeling_geven {ref}",
                          "Huur van december is betaald.", "voldaan", "De rest zo laten", "ja")
    async with services.sessions() as session:
        assert len((await session.scalars(select(Feedback))).all()) == 1, said

    said = await carla.run(f"/knop herinnering_uitstellen {reminder.id}", "15-01-2027",
                           "Wacht op de schuldhulp.")
    async with services.sessions() as session:
        again = await session.get(Reminder, reminder.id)
        assert (again is not None and again.due_at.date() >= date(2027, 1, 15)) or "uitgesteld" in said, said

    said = await carla.run(f"/knop sluiten {ref}", "Blijft: betalingsregeling",
                           "blijft_betalingsregeling", "Regeling loopt goed en de huur wordt betaald.")
    async with services.sessions() as session:
        case = await session.scalar(select(Case))
        assert case is not None and case.phase == "gesloten", said
    assert org is services.org


async def test_prefilled_values_skip_their_questions(services: Services, clock: Clock) -> None:
    """A form opened with values typed in a text command asks only what is missing or wrong."""
    ref = await on_the_agenda(services, clock)
    carla = member(services.org, "carla")
    from commands.besluit import record_decision

    await record_decision(services, carla, ref)
    walker = await Walker.start(services, carla, "casemanager", ref,
                                {"casemanager": "dirk", "termijn": "01-01-2026"})
    assert walker.current() is not None and walker.current().name == "termijn"  # type: ignore[union-attr]
    assert walker.typed("termijn") == "01-01-2026"
    assert walker.answers["casemanager"] == "dirk"


async def answer_melding_until(walker: Walker, stop: str, **changes: object) -> object:
    """Answer the casusformulier with valid answers (and `changes`) up to field `stop`;
    return what answering `stop` says."""
    from tests.helpers import valid_answers

    answers = valid_answers(**changes)
    while (question := walker.current()) is not None:
        raw = answers.get(question.name, "")
        said = walker.answer(raw) if raw != "" or question.required else walker.skip()
        if question.name == stop:
            return said
        assert said is None, (question.name, said)
    raise AssertionError(f"{stop} was not asked")


async def test_melding_rules_between_answers_are_told_at_once(services: Services) -> None:
    from messages.render import renderer

    anna = member(services.org, "anna")
    text = renderer("plain").render
    walker = await Walker.start(services, anna, "melding", "")
    family = await answer_melding_until(walker, "minderjarige_kinderen", minderjarige_kinderen="0")
    assert family is not None and "kinderen" in text(family)  # type: ignore[arg-type]
    assert walker.current().name == "minderjarige_kinderen"  # type: ignore[union-attr]

    walker = await Walker.start(services, anna, "melding", "")
    order = await answer_melding_until(walker, "zitting", dagvaarding="10-12-2026",
                                       zitting="05-12-2026")
    assert order is not None and walker.current().name == "zitting"  # type: ignore[union-attr]

    walker = await Walker.start(services, anna, "melding", "")
    informed = await answer_melding_until(walker, "huurder_geinformeerd", huurder_geinformeerd="nee")
    assert informed is not None  # before the contact person, the name and the address
    assert walker.current().name == "huurder_geinformeerd"  # type: ignore[union-attr]
    assert "huurder_naam" not in walker.answers


async def test_melding_summary_shows_the_cleaned_values(services: Services) -> None:
    from messages.labels import shown_answer

    walker = await Walker.start(services, member(services.org, "anna"), "melding", "")
    await answer_melding_until(walker, "postcode", postcode="6511ab", achterstand_bedrag="1234,5")
    shown = {f.name: shown_answer("melding", f.name, f.kind, value) for f, value in walker.summary()}
    assert shown["postcode"] == "6511 AB"
    assert shown["achterstand_bedrag"] == "€ 1.234,50"
