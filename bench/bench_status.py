"""Benchmark: `/status` and `/rapport` over many cases, on SQLite and PostgreSQL.

Target: under one second each at 50.000 cases; the ratio at 500.000 shows how they scale.
Rows are bulk-inserted (about three years of meldingen, most of the older ones closed, with
decisions, reopened decisions, categories, reminders and nazorg checks), then ANALYZEd. Each
figure is the median of 3 runs after a warm-up run (above 100.000 cases: 1 run after a warm-up).
`rapport` is the default half year, `rapport_jaar` a whole year; both include the chart and the
CSV export. Because the cases are spread over the same three years, 10× more cases also means
10× more cases in the reported period.

Options (environment):
  REGIEBOT_BENCH_SIZES   comma-separated case counts (default "50000,500000")
  REGIEBOT_BENCH_DBS     comma-separated "sqlite,postgresql" (default both)
  REGIEBOT_BENCH_PG_URL  admin URL (default postgresql://postgres@127.0.0.1:5432/postgres)
PostgreSQL gets a fresh database `regiebot_bench_<random>` that is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from cryptography.fernet import Fernet
from sqlalchemy import Table, insert, text

from bench.common import available_kinds, database, timed
from commands.context import Services
from commands.organisation import Organisation, load_organisation
from commands.orgsync import sync_organisation
from commands.rapport import rapport
from commands.replies import Result
from commands.status import status_overview
from messages.files import attachments
from store.crypto import PersonalDataCipher
from store.db import make_engine, make_sessionmaker
from store.models import (
    AgendaItem,
    Case,
    CaseCategory,
    Decision,
    Meeting,
    NazorgCheck,
    Reminder,
)

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
DAYS_OF_HISTORY = 3 * 365
CHUNK = 10_000
OUTCOME_WEIGHTS = {
    "blijft_betalingsregeling": 35, "blijft_laatste_kansovereenkomst": 15,
    "blijft_vonnis_niet_uitgevoerd": 5, "verhuisd_andere_woonvorm": 10, "sleutel_ingeleverd": 8,
    "vertrokken_onbekend": 5, "uitgezet_met_opvang": 8, "uitgezet_zonder_opvang": 4,
    "ingetrokken": 10,
}
REASONS = ("huurachterstand",) * 6 + ("overlast", "hennepteelt_drugs", "woonfraude_onderhuur",
                                      "anders")


async def rapport_with_files(services: Services, member: Any, *words: str) -> Result:
    """The report as a member receives it: the figures, the chart drawn and the CSV written."""
    result = await rapport(services, member, *words)
    result.files = list(await attachments(result.files))
    return result


# --- generating rows -------------------------------------------------------------------------


class Generator:
    """Deterministic rows for `size` cases."""

    def __init__(self, org: Organisation, size: int) -> None:
        self.org = org
        self.size = size
        self.random = random.Random(size)
        self.teams = [t.id for t in org.regieteams]
        self.corporations = {p.id: next((m.id for m in org.members if m.partner == p.id
                                         and m.has_role("melder")), org.members[0].id)
                             for p in org.partners_of_kind("corporatie")}
        self.casemanagers = [m.id for m in org.with_role("casemanager")]
        self.chair = org.with_role("voorzitter")[0].id
        self.categories = list(org.household_categories)
        self.meetings: dict[tuple[str, date], int] = {}
        self.rows: dict[str, list[dict[str, Any]]] = {
            "cases": [], "categories": [], "meetings": [], "items": [], "decisions": [],
            "reminders": [], "nazorg": []}

    def build(self) -> dict[str, list[dict[str, Any]]]:
        for case_id in range(1, self.size + 1):
            self._case(case_id)
        return self.rows

    def _case(self, case_id: int) -> None:
        rnd = self.random
        age = rnd.uniform(0, DAYS_OF_HISTORY)
        filed = NOW - timedelta(days=age, minutes=rnd.randint(0, 600))
        team = rnd.choice(self.teams)
        corporation = rnd.choice(list(self.corporations))
        children = rnd.choice((0, 0, 0, 1, 2, 3))
        zitting = (filed + timedelta(days=rnd.randint(10, 60))).date() if rnd.random() < 0.7 else None
        case: dict[str, Any] = {
            "id": case_id, "reference": f"RT-{filed.year}-{case_id:06d}", "year": filed.year,
            "seq": case_id, "regieteam_id": team, "corporation_id": corporation,
            "filed_by": self.corporations[corporation], "filed_at": filed, "phase": "nieuw",
            "reason": rnd.choice(REASONS), "minor_children": children,
            "arrears_cents": rnd.randint(50_000, 900_000), "arrears_months": rnd.randint(1, 8),
            "zitting_date": zitting, "ontruiming_date": None, "urgency_date": zitting,
            "voortraject": b"-", "insufficient_because": b"-", "tenant_informed": True,
            "wijk": "Oost", "contact_person": b"-", "scenario": None, "casemanager_id": None,
            "termijn": None, "next_terugkoppeling": None, "decided_at": None, "closed_at": None,
            "outcome": None,
        }
        self.rows["cases"].append(case)
        for category in rnd.sample(self.categories, rnd.choice((1, 1, 2))):
            self.rows["categories"].append({"case_id": case_id, "category": category})
        if age < 10:
            case["phase"] = rnd.choice(("nieuw", "op_agenda"))
            return
        self._decide(case, filed)
        if age < 150 and rnd.random() < 0.8:
            self._plan(case)
        else:
            self._close(case)

    def _decide(self, case: dict[str, Any], filed: datetime) -> None:
        rnd = self.random
        decided = filed + timedelta(days=rnd.randint(3, 21), hours=rnd.randint(0, 8))
        item_id = self._agenda_item(case, decided)
        if rnd.random() < 0.03:  # reopened: the first decision is superseded
            self._decision(case, item_id, decided, superseded=decided + timedelta(days=2))
            decided += timedelta(days=7)
        self._decision(case, item_id, decided, superseded=None)
        case.update(phase="besloten", decided_at=decided,
                    scenario=1 if rnd.random() < 0.8 else 2)
        if rnd.random() < 0.3:
            self.rows["reminders"].append({
                "dedupe_key": f"mbz:{case['id']}", "kind": rnd.choice(("mbz", "jeugdbescherming")),
                "case_id": case["id"], "target_partner_id": "mbz", "due_at": decided,
                "payload": {}, "sent_at": decided,
                "done_at": decided + timedelta(days=3) if rnd.random() < 0.9 else None,
            })

    def _agenda_item(self, case: dict[str, Any], decided: datetime) -> int:
        day = decided.date()
        key = (case["regieteam_id"], day)
        if key not in self.meetings:
            self.meetings[key] = len(self.meetings) + 1
            self.rows["meetings"].append({
                "id": self.meetings[key], "regieteam_id": key[0], "meeting_date": day,
                "starts_at": decided, "cutoff_at": decided})
        item_id = len(self.rows["items"]) + 1
        self.rows["items"].append({
            "id": item_id, "meeting_id": self.meetings[key], "case_id": case["id"],
            "section": "nieuw", "position": 1, "added_at": case["filed_at"]})
        return item_id

    def _decision(
        self, case: dict[str, Any], item_id: int, at: datetime, superseded: datetime | None
    ) -> None:
        self.rows["decisions"].append({
            "case_id": case["id"], "agenda_item_id": item_id, "q1": "ja", "q2_steps": [],
            "q3": "nee", "tally": {}, "voters": [], "recorded_by": self.chair, "recorded_at": at,
            "superseded_at": superseded})

    def _plan(self, case: dict[str, Any]) -> None:
        rnd = self.random
        today = NOW.date()
        case.update(phase="in_uitvoering", casemanager_id=rnd.choice(self.casemanagers),
                    termijn=today + timedelta(days=rnd.randint(-30, 120)),
                    next_terugkoppeling=today + timedelta(days=rnd.randint(-10, 28)))

    def _close(self, case: dict[str, Any]) -> None:
        rnd = self.random
        closed = case["decided_at"] + timedelta(days=rnd.randint(20, 200))
        if closed >= NOW:
            closed = NOW - timedelta(days=1)
        outcome = rnd.choices(list(OUTCOME_WEIGHTS), weights=list(OUTCOME_WEIGHTS.values()))[0]
        case.update(phase="gesloten", closed_at=closed, outcome=outcome)
        if outcome.startswith("blijft_"):
            for months in (3, 6, 12):
                due = (closed + timedelta(days=30 * months)).date()
                answered = due < NOW.date()
                self.rows["nazorg"].append({
                    "case_id": case["id"], "months": months, "due_date": due,
                    "answered_at": closed + timedelta(days=30 * months) if answered else None,
                    "still_housed": rnd.random() < 0.9 if answered else None,
                    "paying": rnd.random() < 0.8 if answered else None})


TABLES = (("meetings", Meeting), ("cases", Case), ("categories", CaseCategory),
          ("items", AgendaItem), ("decisions", Decision), ("reminders", Reminder),
          ("nazorg", NazorgCheck))


async def load(services: Services, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Core executemany on the tables (the ORM's bulk path is several times slower)."""
    for name, model in TABLES:
        batch = rows[name]
        table = cast(Table, model.__table__)
        for start in range(0, len(batch), CHUNK):
            async with services.transaction() as session:
                connection = await session.connection()
                await connection.execute(insert(table), batch[start:start + CHUNK])
    async with services.transaction() as session:
        await session.execute(text("ANALYZE"))


# --- measuring -------------------------------------------------------------------------------


async def measure(kind: str, url: str, size: int, org: Organisation) -> dict[str, float]:
    engine = make_engine(url)
    services = Services(sessions=make_sessionmaker(engine), org=org,
                        cipher=PersonalDataCipher(Fernet.generate_key().decode()),
                        clock=lambda: NOW)
    try:
        async with services.transaction() as session:
            await sync_organisation(session, org)
        started = time.perf_counter()
        rows = Generator(org, size).build()
        await load(services, rows)
        loaded = time.perf_counter() - started
        repeat = 3 if size <= 100_000 else 1
        coordinator = org.with_role("coordinator")[0]
        chair = org.with_role("voorzitter")[0]
        figures = {
            "laden": loaded,
            "status": await timed(lambda: status_overview(services, coordinator), repeat, warmup=True),
            "status_volledig": await timed(lambda: status_overview(services, coordinator, True), repeat,
                                             warmup=True),
            "status_voorzitter": await timed(lambda: status_overview(services, chair), repeat,
                                               warmup=True),
            "rapport": await timed(lambda: rapport_with_files(services, coordinator), repeat,
                                     warmup=True),
            "rapport_jaar": await timed(lambda: rapport_with_files(services, coordinator, "24-11-2025"),
                                          repeat, warmup=True),
        }
        print(f"{kind:<10} {size:>8} " + "  ".join(
            f"{name} {seconds * 1000:8.1f} ms" if name != "laden" else f"laden {seconds:6.1f} s"
            for name, seconds in figures.items()), flush=True)
        return figures
    finally:
        await engine.dispose()


def main() -> None:
    sizes = [int(s) for s in os.environ.get("REGIEBOT_BENCH_SIZES", "50000,500000").split(",")]
    kinds = os.environ.get("REGIEBOT_BENCH_DBS", ",".join(available_kinds())).split(",")
    org = load_organisation(ROOT / "deploy" / "regieteam.example.yaml")
    results: dict[tuple[str, int], dict[str, float]] = {}
    for kind in kinds:
        for size in sizes:
            with database(kind) as url:
                results[(kind, size)] = asyncio.run(measure(kind, url, size, org))
    _summary(results, sizes, kinds)


def _summary(results: dict[tuple[str, int], dict[str, float]], sizes: list[int],
             kinds: list[str]) -> None:
    smallest, largest = min(sizes), max(sizes)
    for kind in kinds:
        base = results[(kind, smallest)]
        verdict = all(base[n] < 1.0 for n in ("status", "rapport"))
        print(f"{kind}: /status en /rapport bij {smallest} casussen onder 1 s: "
              f"{'ja' if verdict else 'NEE'}")
        if largest != smallest:
            big = results[(kind, largest)]
            ratios = ", ".join(f"{name} ×{big[name] / base[name]:.1f}"
                               for name in ("status", "status_volledig", "rapport", "rapport_jaar"))
            print(f"{kind}: verhouding {largest}/{smallest}: {ratios}")


if __name__ == "__main__":
    main()
