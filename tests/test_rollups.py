"""The figure rollups: after a random (seeded) run of filings, decisions, reopenings, closings
and household corrections through the use cases, the maintained rollups equal a full recount,
and /rapport (which reads them) gives the figures that the per-case CSV (a direct query on the
cases) gives, for periods that cut months in two. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from commands import agenda, besluit, huishouden, rollups, sluiten, stemmen
from commands.context import Services
from commands.figures import MonthChart
from commands.rapport import LEAD_TIMES, nearest_rank, rapport
from commands.replies import CommandRefused, FileToMake
from commands.rollups import rebuild_figures, rollup_rows
from commands.status import partner_name, team_name
from messages.files import attachments
from store.models import Case, RollupCount, RollupLeadTime, RollupState
from tests.conftest import EXAMPLE_ORG, Clock, member
from tests.helpers import file
from tests.status_builders import Rows, utc

MELDERS = {"anna": "talis", "bram": "portaal", "wendy": "woonwaarts"}
TEAMS = {"oost": ("carla", ["carla", "dirk", "eva", "fatima"]),
         "west": ("gerrit", ["bram", "eva", "gerrit", "hanna", "ilse"])}
CATEGORIES = ["multiprobleem", "kwetsbaar", "woonoverlast", "senioren", "oggz"]
OUTCOMES = ["blijft_betalingsregeling", "blijft_laatste_kansovereenkomst",
            "verhuisd_andere_woonvorm", "sleutel_ingeleverd", "uitgezet_zonder_opvang"]
REASON = "Zo besloten in het overleg van het Regieteam."


class RandomRun:
    """Drives the use cases in a seeded random order, as the Regieteams would."""

    def __init__(self, services: Services, clock: Clock, seed: int) -> None:
        self.services, self.clock, self.random = services, clock, random.Random(seed)
        self.done: Counter[str] = Counter()

    def who(self, member_id: str) -> Any:
        return member(self.services.org, member_id)

    async def step(self) -> None:
        self.clock.advance(hours=self.random.randint(1, 40), minutes=self.random.randint(0, 59))
        action = self.random.choices(
            [self.file, self.put_on_agenda, self.decide, self.reopen, self.close, self.correct],
            weights=[5, 2, 4, 2, 3, 1])[0]
        try:
            await action()
        except CommandRefused:
            self.done["geweigerd"] += 1
        else:
            self.done[action.__name__] += 1

    async def pick(self, *phases: str) -> tuple[str, str]:
        """A random case in one of `phases` (any case when none are given)."""
        async with self.services.transaction() as session:
            query = select(Case.reference, Case.regieteam_id).order_by(Case.reference)
            if phases:
                query = query.where(Case.phase.in_(phases))
            cases = (await session.execute(query)).all()
        if not cases:
            raise CommandRefused("test/geen_casus")
        reference, team = self.random.choice(cases)
        return str(reference), str(team)

    async def file(self) -> None:
        melder = self.random.choice(sorted(MELDERS))
        team = self.random.choice(sorted(TEAMS))
        categories = self.random.sample(CATEGORIES, self.random.randint(1, 2))
        children = self.random.choice([0, 0, 1, 3])
        if children:
            categories.append("gezin_met_minderjarige_kinderen")
        await file(self.services, melder, regieteam=team, wijk="Centrum", huishouden=categories,
                            minderjarige_kinderen=str(children), dagvaarding="", zitting="",
                            reden=self.random.choice(["huurachterstand", "overlast"]))

    async def put_on_agenda(self) -> None:
        team = self.random.choice(sorted(TEAMS))
        await agenda.post_agenda(self.services, self.who(TEAMS[team][0]), team)

    async def decide(self) -> None:
        reference, team = await self.pick("op_agenda")
        chair, voters = TEAMS[team]
        for voter in self.random.sample(voters, 3):
            for question in ("q1", "q3"):
                await stemmen.cast_vote(self.services, self.who(voter), reference, question,
                                        self.random.choice(["ja", "nee"]))
        await besluit.record_decision(self.services, self.who(chair), reference)

    async def reopen(self) -> None:
        reference, team = await self.pick("besloten")
        await besluit.reopen_decision(self.services, self.who(TEAMS[team][0]), reference, REASON)

    async def close(self) -> None:
        reference, team = await self.pick("nieuw", "op_agenda", "besloten")
        if self.random.random() < 0.2:
            await self._withdraw(reference)
            return
        await sluiten.close_case(self.services, self.who(TEAMS[team][0]), reference,
                                 self.random.choice(OUTCOMES), REASON)

    async def _withdraw(self, reference: str) -> None:
        for melder in MELDERS:
            try:
                await sluiten.close_case(self.services, self.who(melder), reference,
                                         "ingetrokken", "De huurder heeft alles betaald.")
                return
            except CommandRefused:
                continue
        raise CommandRefused("test/niet_ingetrokken")

    async def correct(self) -> None:
        reference, team = await self.pick()
        categories = self.random.sample(CATEGORIES, self.random.randint(1, 2))
        await huishouden.correct_household(self.services, self.who(TEAMS[team][0]), reference,
                                           categories=categories, children="0",
                                           reason="Bij het huisbezoek bleek het anders.")


async def run_randomly(services: Services, clock: Clock, seed: int, steps: int) -> RandomRun:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))  # across the DST change of 29 March
    await rebuild_figures(services)  # an empty database, counted
    run = RandomRun(services, clock, seed)
    for _ in range(steps):
        await run.step()
    return run


async def current_rollups(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    async with services.transaction() as session:
        return await rollup_rows(session)


@pytest.mark.parametrize("seed", [7, 2026])
async def test_rollups_equal_a_full_recount_after_a_random_run(
    services: Services, clock: Clock, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = await run_randomly(services, clock, seed, steps=90)
    for action in ("file", "decide", "reopen", "close", "correct"):
        assert run.done[action] > 0, (action, run.done)
    maintained = await current_rollups(services)
    assert maintained["counts"] and maintained["lead_times"]

    monkeypatch.setattr(rollups, "REBUILD_BATCH", 7)  # read and write in several parts
    monkeypatch.setattr(rollups, "FLUSH_EVERY", 10)
    rebuilt = await rebuild_figures(services)

    assert rebuilt.cases == run.done["file"]
    assert (rebuilt.count_rows, rebuilt.lead_time_rows) == (
        len(maintained["counts"]), len(maintained["lead_times"]))
    assert await current_rollups(services) == maintained


# --- /rapport from the rollups against a recount of the CSV rows (a direct query) -----------


def recount_from_csv(services: Services, rows: list[dict[str, str]]) -> dict[str, Any]:
    """The report's counts and lead times, counted by hand from the export as docs/cijfers.md
    says: gemeld_in_periode for meldingen, gesloten_in_periode for outcomes, and so on."""
    org = services.org
    groups: dict[str, dict[str, dict[str, Any]]] = {}

    def group(dimension: str, key: str) -> dict[str, Any]:
        return groups.setdefault(dimension, {}).setdefault(key, {
            "meldingen": 0, "uitkomsten": Counter(), "dagen": {m: [] for m in LEAD_TIMES}})

    for row in rows:
        keys = [("totaal", "totaal"), ("regieteam", team_name(org, row["regieteam"])),
                ("corporatie", partner_name(org, row["corporatie"]))]
        keys += [("huishouden", c) for c in row["huishouden"].split(";") if c]
        for dimension, key in keys:
            counted = group(dimension, key)
            if row["gemeld_in_periode"] == "ja":
                counted["meldingen"] += 1
            if row["gesloten_in_periode"] == "ja":
                counted["uitkomsten"][row["uitkomst"]] += 1
            if row["besloten_in_periode"] == "ja":
                counted["dagen"]["melding_besluit"].append(int(row["dagen_melding_besluit"]))
            if row["gesloten_in_periode"] == "ja":
                for measure in ("besluit_sluiting", "melding_sluiting"):
                    if row[f"dagen_{measure}"]:
                        counted["dagen"][measure].append(int(row[f"dagen_{measure}"]))
    return groups


def figures_of_report(data: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    result = {"totaal": {"totaal": data["totaal"]}}
    for dimension, figures in data["per"].items():
        result[dimension] = {figure["naam"]: figure for figure in figures}
    return result


def exact_lead_time(values: list[int]) -> dict[str, int | None]:
    buckets = sorted(Counter(values).items())
    n = len(values)
    return {"aantal": n, "mediaan": nearest_rank(buckets, (n + 1) // 2),
            "p90": nearest_rank(buckets, (n * 9 + 9) // 10)}


@pytest.mark.parametrize(("van", "tot"), [("02-03-2026", "30-06-2026"),
                                          ("17-03-2026", "09-05-2026"),
                                          ("29-03-2026", "29-03-2026")])
async def test_report_from_rollups_matches_the_cases(
    services: Services, clock: Clock, van: str, tot: str
) -> None:
    await run_randomly(services, clock, seed=11, steps=90)
    result = await rapport(services, member(services.org, "joost"), van, tot, export=True)
    export = next(f for f in await attachments(result.files) if f.mime == "text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8"), newline="")))
    expected = recount_from_csv(services, rows)
    reported = figures_of_report(result.value)

    for dimension, groups in expected.items():
        for key, counted in groups.items():
            figure = reported[dimension][key]
            assert figure["meldingen"] == counted["meldingen"], (dimension, key)
            assert figure["uitkomsten"] == dict(counted["uitkomsten"]), (dimension, key)
            for measure, values in counted["dagen"].items():
                if values:
                    assert figure["doorlooptijden"][measure] == exact_lead_time(values), (
                        dimension, key, measure)
    assert set(reported["regieteam"]) <= set(expected.get("regieteam", {}))
    closed = [row for row in rows if row["gesloten_in_periode"] == "ja"]
    data = result.value
    assert data["redenen_uitzetting"] == dict(Counter(
        row["reden"] for row in closed if row["uitkomst"].startswith("uitgezet_")))
    per_scenario = Counter((row["scenario"] or "geen", row["uitkomst"]) for row in closed)
    assert {(figure["naam"], outcome): n for figure in data["per_scenario"]
            for outcome, n in figure["uitkomsten"].items()} == dict(per_scenario)
    assert data["kosten"]["gezinnen"] == sum(
        1 for row in closed
        if row["uitkomst"].startswith("blijft_") and int(row["minderjarige_kinderen"]) > 0)
    months = next(f.content for f in result.files
                  if isinstance(f, FileToMake) and isinstance(f.content, MonthChart)).months
    assert sum(m.meldingen for m in months) == expected["totaal"]["totaal"]["meldingen"]
    assert sum(sum(m.closed.values()) for m in months) == sum(
        n for outcome, n in expected["totaal"]["totaal"]["uitkomsten"].items() if outcome)


async def test_the_first_report_after_the_upgrade_counts_every_case(services: Services) -> None:
    """The upgrade that adds the rollups to a database with cases marks them as not counted."""
    async with services.transaction() as session:
        rows = Rows(services, session)
        await rows.case(team="oost", corporation="talis", filed_at=utc(2026, 9, 1))
        await session.merge(RollupState(id=1, counted=False))
    data = (await rapport(services, member(services.org, "joost"))).value
    assert data["totaal"]["meldingen"] == 1
    async with services.transaction() as session:
        state = await session.get(RollupState, 1)
        assert state is not None and state.counted


# --- the command ------------------------------------------------------------------------------


def test_the_rebuild_command_gives_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`regiebot cijfers herbereken` on the demo database (made through the use cases, so the
    rollups are kept): the rows it writes are the ones that were kept."""
    import asyncio

    from bot.cli import main
    from bot.runtime import build_services, close_services
    from bot.settings import Settings

    monkeypatch.chdir(tmp_path)
    for name in ("REGIEBOT_SECRET_KEY", "REGIEBOT_DATABASE_URL", "SLACK_BOT_TOKEN",
                 "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REGIEBOT_CONFIG", str(EXAMPLE_ORG))
    assert main(["db", "upgrade"]) == 0
    assert main(["demo"]) == 0

    async def rows(wipe: bool = False) -> dict[str, list[tuple[Any, ...]]]:
        services = await build_services(Settings())
        try:
            if wipe:
                async with services.transaction() as session:
                    await session.execute(delete(RollupCount))
                    await session.execute(delete(RollupLeadTime))
            return await current_rollups(services)
        finally:
            await close_services(services)

    kept = asyncio.run(rows())
    assert kept["counts"]
    assert asyncio.run(rows(wipe=True)) == {"counts": [], "lead_times": []}
    capsys.readouterr()

    assert main(["cijfers", "herbereken"]) == 0

    out = capsys.readouterr().out
    assert "De cijfers zijn opnieuw geteld uit 7 casussen" in out
    assert asyncio.run(rows()) == kept



# --- the upgrade ------------------------------------------------------------------------------


@pytest.mark.parametrize("with_case", [False, True])
def test_the_upgrade_marks_a_database_with_cases_as_not_counted(
    tmp_path: Path, with_case: bool
) -> None:
    from cryptography.fernet import Fernet
    from sqlalchemy import insert

    from store.db import make_sync_engine, upgrade
    from store.models import MemberRow, PartnerRow, RegieteamRow

    url, key = f"sqlite:///{tmp_path}/voor.db", Fernet.generate_key().decode()
    upgrade(url, "0011", secret_key=key)
    engine = make_sync_engine(url)
    if with_case:
        with engine.begin() as connection:
            connection.execute(insert(RegieteamRow).values(id="oost", name="Oost"))
            connection.execute(insert(PartnerRow).values(id="talis", name="Talis",
                                                         kind="corporatie"))
            connection.execute(insert(MemberRow).values(id="anna", name="Anna",
                                                        partner_id="talis", roles=["melder"]))
            connection.execute(insert(Case).values(
                reference="RT-2026-0001", year=2026, seq=1, regieteam_id="oost",
                corporation_id="talis", filed_by="anna", filed_at=utc(2026, 9, 1),
                phase="nieuw", reason="huurachterstand", minor_children=0, arrears_cents=0,
                arrears_months=0, voortraject=b"x", insufficient_because=b"x",
                tenant_informed=True, wijk="Oost", contact_person=b"x"))
    upgrade(url, secret_key=key)
    with engine.begin() as connection:
        counted = connection.execute(select(RollupState.counted)).scalars().all()
    engine.dispose()
    assert counted == [not with_case]
