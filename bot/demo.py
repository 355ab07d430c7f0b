"""`regiebot demo`: clearly fictitious cases at every stage, made through the real commands.

The clock is moved through the past weeks so that meetings, votes and decisions happen in
order, on working days only (no weekend, no holiday of the organisation's working-day rules):
a closed case, plans in scenario 1 (termijn passed) and 2, a case decided but without a
casemanager yet, a case voted on but not yet decided, and new meldingen for the next agenda.
The cases are spread over both Regieteams of the example organisation and over its three
corporations (Talis, Portaal, Woonwaarts). At the end the demo lists which case is at which
stage.

`python -m bot.demo reset` (`make demo-reset`) removes the local SQLite database under `var/`
and nothing else; it refuses a PostgreSQL database.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from commands import agenda, audit, besluit, casemanager, sluiten, stemmen
from commands.context import Services
from commands.melding import file_melding
from commands.organisation import Member
from commands.words import Outcome, Phase, Question
from commands.workdays import add_working_days, is_working_day
from store.models import Case

if TYPE_CHECKING:
    from bot.settings import Settings

VOORTRAJECT = "Betalingsregeling aangeboden, huisbezoek afgelegd en het Buurtteam ingeschakeld."
ONVOLDOENDE = "De afspraken zijn niet nagekomen en de achterstand loopt verder op."
DATABASE_FILE_SUFFIXES = ("", "-wal", "-shm", "-journal", ".lock")


class DemoRefused(RuntimeError):
    """The database already holds cases; the demo only fills an empty one."""


@dataclass(frozen=True)
class DemoCase:
    """One demo case as it stands after the demo: for the list at the end."""

    reference: str
    regieteam: str
    corporation: str
    phase: str
    scenario: int | None = None
    outcome: str | None = None
    termijn_passed: bool = False
    voted_without_decision: bool = False

    def data(self) -> dict[str, Any]:
        return {"referentie": self.reference, "team": self.regieteam,
                "corporatie": self.corporation, "fase": self.phase, "scenario": self.scenario,
                "uitkomst": self.outcome, "termijn_verlopen": self.termijn_passed,
                "gestemd": self.voted_without_decision}


def _answers(number: int, children: int, wijk: str, zitting: date) -> dict[str, Any]:
    categories = ["gezin_met_minderjarige_kinderen"] if children else ["multiprobleem"]
    return {
        "wijk": wijk, "reden": "huurachterstand", "huishouden": categories,
        "minderjarige_kinderen": str(children), "achterstand_bedrag": f"{850 * (number % 4 + 1)},00",
        "achterstand_maanden": str(number % 4 + 2), "zitting": zitting.strftime("%d-%m-%Y"),
        "voortraject": VOORTRAJECT, "onvoldoende": ONVOLDOENDE, "huurder_geinformeerd": "ja",
        "contactpersoon": "Medewerker Incasso (demo)", "huurder_naam": f"Demo Huishouden {number}",
        "adres": f"Voorbeeldstraat {number}", "postcode": "6511 ZZ",
    }


class DemoTimeline:
    """Runs commands at chosen moments in the past, on working days only."""

    def __init__(self, services: Services) -> None:
        self.real = services
        self.rules = services.org.rules.working_days

    def working_days_ago(self, count: int) -> date:
        """The working day `count` working days before today."""
        day = self.real.today()
        while count > 0:
            day -= timedelta(days=1)
            if is_working_day(day, self.rules):
                count -= 1
        return day

    def working_day_before(self, day: date) -> date:
        day -= timedelta(days=1)
        while not is_working_day(day, self.rules):
            day -= timedelta(days=1)
        return day

    def after(self, day: date, working_days: int) -> date:
        return add_working_days(day, working_days, self.rules)

    def on(self, day: date, at: time = time(9, 0)) -> Services:
        if not is_working_day(day, self.rules):
            raise ValueError(f"{day} is geen werkdag")
        moment = datetime.combine(day, at, tzinfo=self.real.timezone).astimezone(UTC)
        return replace(self.real, clock=lambda: moment)

    def meeting_after(self, team: str, filed: date) -> date:
        """The first meeting of `team` on a working day whose agenda a melding filed at 09:00
        on `filed` makes (filed before the cut-off)."""
        org = self.real.org
        filed_at = datetime.combine(filed, time(9, 0), tzinfo=self.real.timezone)
        day = filed + timedelta(days=1)
        while not (agenda.is_meeting_day(org, team, day) and is_working_day(day, self.rules)
                   and agenda.agenda_cutoff(self.real, team, day) > filed_at):
            day += timedelta(days=1)
        return day

    def meeting_moment(self, team: str, day: date, minutes_later: int) -> Services:
        start = agenda.meeting_start(self.real, team, day) + timedelta(minutes=minutes_later)
        return self.on(day, start.timetz().replace(tzinfo=None))


def _m(services: Services, member_id: str) -> Member:
    found = services.org.member(member_id)
    if found is None:
        raise DemoRefused(f"het voorbeeld gebruikt lid '{member_id}' uit deploy/regieteam.example.yaml")
    return found


@dataclass(frozen=True)
class _Team:
    id: str
    chair: str
    voters: tuple[str, ...]


OOST = _Team("oost", "carla", ("carla", "dirk", "eva"))
WEST = _Team("west", "gerrit", ("gerrit", "hanna", "ilse"))


class _Demo:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.timeline = DemoTimeline(services)
        self.refs: list[str] = []

    async def file(self, filed: date, melder: str, number: int, children: int, wijk: str) -> str:
        zitting = self.timeline.after(filed, 30)
        result = await file_melding(self.timeline.on(filed), _m(self.services, melder),
                                    _answers(number, children, wijk, zitting))
        self.refs.append(str(result.value))
        return str(result.value)

    async def put_on_agenda(self, team: _Team, filed: date) -> date:
        """Post the agenda of the meeting after `filed` on the working day before it."""
        meeting = self.timeline.meeting_after(team.id, filed)
        posted = self.timeline.on(self.timeline.working_day_before(meeting), time(13, 0))
        await agenda.post_agenda(posted, _m(self.services, team.chair), team.id)
        return meeting

    async def decide(self, team: _Team, ref: str, filed: date, q1: str) -> date:
        meeting = await self.put_on_agenda(team, filed)
        during = self.timeline.meeting_moment(team.id, meeting, 15)
        for voter in team.voters:
            member = _m(self.services, voter)
            await stemmen.cast_vote(during, member, ref, Question.KAN_VOORKOMEN, q1)
            await stemmen.cast_vote(during, member, ref, Question.MELDPUNT, "nee")
            await stemmen.cast_vote(during, member, ref, Question.STAPPEN,
                                    steps=["schuldhulpverlening"])
        await besluit.record_decision(self.timeline.meeting_moment(team.id, meeting, 60),
                                      _m(self.services, team.chair), ref)
        return meeting

    async def appoint(self, team: _Team, ref: str, meeting: date, who: str, days: int) -> None:
        await casemanager.appoint(self.timeline.meeting_moment(team.id, meeting, 90),
                                  _m(self.services, team.chair), ref, who,
                                  self.timeline.after(meeting, days))


async def fill_demo(services: Services) -> list[DemoCase]:
    """Fill an empty database with demo cases; returns them as they stand afterwards."""
    async with services.transaction() as session:
        if await session.scalar(select(func.count()).select_from(Case)):
            raise DemoRefused("de database bevat al casussen")
    demo = _Demo(services)
    ago = demo.timeline.working_days_ago

    # Closed: decided, a plan in scenario 1, and the tenant stays with a payment plan.
    filed = ago(105)
    closed = await demo.file(filed, "anna", 1, 2, "Oost")
    met = await demo.decide(OOST, closed, filed, "ja")
    await demo.appoint(OOST, closed, met, "dirk", 40)
    await sluiten.close_case(demo.timeline.on(demo.timeline.after(met, 50)), _m(services, "carla"),
                             closed, Outcome.BLIJFT_BETALINGSREGELING,
                             "Betalingsregeling wordt nagekomen.")
    # Scenario 1 whose termijn has passed.
    filed = ago(45)
    scenario1 = await demo.file(filed, "bram", 2, 1, "Dukenburg")
    met = await demo.decide(WEST, scenario1, filed, "ja")
    await demo.appoint(WEST, scenario1, met, "ilse", 20)
    # Scenario 2, on schedule.
    filed = ago(25)
    scenario2 = await demo.file(filed, "wendy", 3, 2, "Oost")
    met = await demo.decide(OOST, scenario2, filed, "nee")
    await demo.appoint(OOST, scenario2, met, "dirk", 35)
    # Decided, waiting for the chair to appoint a casemanager.
    filed = ago(15)
    decided = await demo.file(filed, "wendy", 4, 0, "Lindenholt")
    await demo.decide(WEST, decided, filed, "ja")
    # On the agenda of the last meeting: voted on, no decision yet.
    filed = ago(12)
    voted = await demo.file(filed, "bram", 5, 0, "Nijmegen-Noord")
    meeting = await demo.put_on_agenda(OOST, filed)
    await stemmen.cast_vote(demo.timeline.meeting_moment(OOST.id, meeting, 15),
                            _m(services, "carla"), voted, Question.KAN_VOORKOMEN, "twijfel")
    # New meldingen for the next agendas.
    await demo.file(ago(2), "anna", 6, 3, "Oost")
    await demo.file(ago(1), "anna", 7, 0, "West")
    async with services.transaction() as session:  # lets /als and --as work on this database
        audit.mark_demo_database(session, demo.refs, services.now())
    return await demo_cases(services, demo.refs, voted=[voted])


async def demo_cases(services: Services, references: Sequence[str],
                     voted: Sequence[str] = ()) -> list[DemoCase]:
    """The cases as they stand now, in the order of their references."""
    org, today = services.org, services.today()
    async with services.sessions() as session:
        rows = (await session.scalars(
            select(Case).where(Case.reference.in_(list(references))).order_by(Case.reference)
        )).all()
    return [DemoCase(
        reference=case.reference, regieteam=org.regieteam(case.regieteam_id).name,
        corporation=org.partner(case.corporation_id).name, phase=case.phase,
        scenario=case.scenario if case.phase == Phase.IN_UITVOERING else None,
        outcome=case.outcome,
        termijn_passed=bool(case.phase == Phase.IN_UITVOERING and case.termijn
                            and case.termijn < today),
        voted_without_decision=case.reference in voted and case.phase == Phase.OP_AGENDA,
    ) for case in rows]


# --- the command line: `regiebot demo` and `make demo-reset` ---------------------------------


def _text(template: str, **data: object) -> str:
    from messages.render import renderer

    return renderer("plain").text(template, **data)


def local_database_file(database_url: str) -> Path | None:
    """The SQLite file of this URL when it lies under var/ (the only one demo-reset removes)."""
    from bot.settings import VAR_DIR
    from store.db import is_sqlite

    if not is_sqlite(database_url):
        return None
    name = make_url(database_url).database
    if not name or name == ":memory:":
        return None
    path = Path(name)
    if not path.resolve().is_relative_to(VAR_DIR.resolve()):
        return None
    return path


async def run_demo(settings: Settings) -> int:
    """`regiebot demo`: fill the database, or say how to start clean when it is in use."""
    from bot.runtime import build_services, close_services

    services = await build_services(settings)
    try:
        cases = await fill_demo(services)
    except DemoRefused as exc:
        print(_text("cli/demo_niets_gedaan", reden=exc,
                    bestand=local_database_file(settings.database_url)), file=sys.stderr)
        return 1
    finally:
        await close_services(services)
    print(_text("cli/demo_gemaakt", casussen=[case.data() for case in cases]))
    return 0


def reset_database(settings: Settings) -> int:
    """Remove the local SQLite database (and its -wal, -shm and lock files); nothing else."""
    from bot.runtime import hold_sqlite_file
    from bot.settings import SettingsError
    from store.db import is_sqlite

    path = local_database_file(settings.database_url)
    if path is None:
        print(_text("cli/demo_reset_geweigerd", postgresql=not is_sqlite(settings.database_url)),
              file=sys.stderr)
        return 2
    try:
        held = hold_sqlite_file(settings.database_url)  # refused while a bot uses the file
    except SettingsError as exc:
        print(f"regiebot: {exc}", file=sys.stderr)
        return 2
    existed = path.exists()
    try:
        for suffix in DATABASE_FILE_SUFFIXES:
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    finally:
        if held is not None:
            held.close()
    print(_text("cli/demo_reset_gedaan", bestand=path, bestond=existed))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from bot.settings import Settings

    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["reset"]:
        print("gebruik: python -m bot.demo reset", file=sys.stderr)
        return 2
    return reset_database(Settings())


if __name__ == "__main__":
    raise SystemExit(main())
