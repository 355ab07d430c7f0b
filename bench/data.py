"""Bulk data for the query benchmarks: open cases and a closed history, loaded with core
`insert(table)` executemany in chunks (never case by case). Encrypted fields are encrypted
once and the same bytes are used for every row.

Open cases are filed in the last 120 days (new, on the agenda, decided, in uitvoering with a
termijn and terugkoppeling dates around today). Closed cases are spread over three years
before that, each with a meeting, an agenda item, a decision (3 % reopened: a superseded
decision as well), categories, an outcome and, when the tenant stays, nazorg checks.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, text

from commands.context import Services
from commands.organisation import Organisation
from store.models import AgendaItem, Case, CaseCategory, Decision, Meeting, NazorgCheck

CHUNK = 5_000  # cases per generated and inserted chunk
HISTORY_DAYS = 3 * 365
CLOSED_PER_DAY = 5000 / HISTORY_DAYS  # the smallest normal history fills three years
OUTCOMES = {
    "blijft_betalingsregeling": 35, "blijft_laatste_kansovereenkomst": 15,
    "blijft_vonnis_niet_uitgevoerd": 5, "verhuisd_andere_woonvorm": 10, "sleutel_ingeleverd": 8,
    "vertrokken_onbekend": 5, "uitgezet_met_opvang": 8, "uitgezet_zonder_opvang": 4,
    "ingetrokken": 10,
}
REASONS = ("huurachterstand",) * 6 + ("overlast", "hennepteelt_drugs", "woonfraude_onderhuur")
TABLES = (("meetings", Meeting), ("cases", Case), ("categories", CaseCategory),
          ("items", AgendaItem), ("decisions", Decision), ("nazorg", NazorgCheck))


class History:
    """Deterministic rows; ids continue from one call to the next, so a history can grow."""

    def __init__(self, org: Organisation, now: datetime, secret: bytes) -> None:
        self.now = now
        self.secret = secret
        self.random = random.Random(16)
        self.teams = [t.id for t in org.regieteams]
        self.corporations = {p.id: next(m.id for m in org.members if m.partner == p.id
                                        and m.has_role("melder"))
                             for p in org.partners_of_kind("corporatie")
                             if any(m.partner == p.id and m.has_role("melder") for m in org.members)}
        self.casemanagers = [m.id for m in org.with_role("casemanager")]
        self.chair = org.with_role("voorzitter")[0].id
        self.categories = list(org.household_categories)
        self.meetings: dict[tuple[str, date], int] = {}
        self.next_case = 1
        self.next_item = 1
        self.closed_cases = 0

    def chunks(self, count: int, closed: bool) -> Iterator[dict[str, list[dict[str, Any]]]]:
        for first in range(0, count, CHUNK):
            rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in TABLES}
            for _ in range(min(CHUNK, count - first)):
                self._case(rows, closed)
            yield rows

    # --- one case ------------------------------------------------------------------------------
    def _closed_age(self) -> float:
        """Days since a closed case was filed. The history grows back in time at a constant
        rate (CLOSED_PER_DAY): a larger history is a longer one, as in a municipality whose
        yearly number of cases stays the same, so the last half year holds the same cases at
        every size."""
        age = 130 + self.closed_cases / CLOSED_PER_DAY + self.random.uniform(0, 1)
        self.closed_cases += 1
        return age

    def _case(self, rows: dict[str, list[dict[str, Any]]], closed: bool) -> None:
        rnd = self.random
        case_id = self.next_case
        self.next_case += 1
        age = self._closed_age() if closed else rnd.uniform(0, 120)
        filed = self.now - timedelta(days=age)
        corporation = rnd.choice(list(self.corporations))
        zitting = (filed + timedelta(days=rnd.randint(10, 60))).date() if rnd.random() < 0.7 else None
        case: dict[str, Any] = {
            "id": case_id, "reference": f"RT-{filed.year}-{case_id:07d}"[:16],
            "year": 3000 + case_id // 1_000_000, "seq": case_id,
            "regieteam_id": rnd.choice(self.teams), "corporation_id": corporation,
            "filed_by": self.corporations[corporation], "filed_at": filed, "phase": "nieuw",
            "reason": rnd.choice(REASONS), "minor_children": rnd.choice((0, 0, 0, 1, 2, 3)),
            "arrears_cents": rnd.randint(50_000, 900_000), "arrears_months": rnd.randint(1, 8),
            "zitting_date": zitting, "urgency_date": zitting, "voortraject": self.secret,
            "insufficient_because": self.secret, "tenant_informed": True, "wijk": "Oost",
            "contact_person": self.secret, "scenario": None, "casemanager_id": None,
            "termijn": None, "terugkoppeling_weeks": None, "next_terugkoppeling": None,
            "decided_at": None, "closed_at": None, "outcome": None,
        }
        rows["cases"].append(case)
        for category in rnd.sample(self.categories, rnd.choice((1, 1, 2))):
            rows["categories"].append({"case_id": case_id, "category": category})
        if not closed:
            phase = rnd.choices(("nieuw", "op_agenda", "besloten", "in_uitvoering"),
                                weights=(10, 10, 20, 60))[0]
            if phase == "nieuw":
                return
            if phase == "op_agenda":
                self._item(rows, case, filed + timedelta(days=3))
                case["phase"] = "op_agenda"
                return
            self._decide(rows, case, filed)
            if phase == "in_uitvoering":
                self._plan(case)
            return
        self._decide(rows, case, filed)
        self._close(rows, case)

    def _item(self, rows: dict[str, list[dict[str, Any]]], case: dict[str, Any],
              at: datetime) -> int:
        day = at.date()
        key = (case["regieteam_id"], day)
        if key not in self.meetings:
            self.meetings[key] = len(self.meetings) + 1
            rows["meetings"].append({"id": self.meetings[key], "regieteam_id": key[0],
                                     "meeting_date": day, "starts_at": at, "cutoff_at": at})
        item_id = self.next_item
        self.next_item += 1
        rows["items"].append({"id": item_id, "meeting_id": self.meetings[key],
                              "case_id": case["id"], "section": "nieuw", "position": 1,
                              "added_at": case["filed_at"]})
        return item_id

    def _decide(self, rows: dict[str, list[dict[str, Any]]], case: dict[str, Any],
                filed: datetime) -> None:
        rnd = self.random
        decided = min(filed + timedelta(days=rnd.randint(3, 21)), self.now - timedelta(hours=1))
        item_id = self._item(rows, case, decided)
        if rnd.random() < 0.03:  # reopened: the first decision was superseded
            rows["decisions"].append(self._decision(case, item_id, decided, decided + timedelta(days=2)))
        rows["decisions"].append(self._decision(case, item_id, decided, None))
        case.update(phase="besloten", decided_at=decided, scenario=1 if rnd.random() < 0.8 else 2)

    def _decision(self, case: dict[str, Any], item_id: int, at: datetime,
                  superseded: datetime | None) -> dict[str, Any]:
        return {"case_id": case["id"], "agenda_item_id": item_id, "q1": "ja", "q2_steps": [],
                "q3": "nee", "tally": {}, "voters": [], "recorded_by": self.chair,
                "recorded_at": at, "superseded_at": superseded}

    def _plan(self, case: dict[str, Any]) -> None:
        rnd = self.random
        today = self.now.date()
        case.update(phase="in_uitvoering", casemanager_id=rnd.choice(self.casemanagers),
                    terugkoppeling_weeks=4,
                    termijn=today + timedelta(days=rnd.randint(-30, 120)),
                    next_terugkoppeling=today + timedelta(days=rnd.randint(-10, 28)))

    def _close(self, rows: dict[str, list[dict[str, Any]]], case: dict[str, Any]) -> None:
        rnd = self.random
        closed = min(case["decided_at"] + timedelta(days=rnd.randint(20, 200)),
                     self.now - timedelta(days=1))
        outcome = rnd.choices(list(OUTCOMES), weights=list(OUTCOMES.values()))[0]
        case.update(phase="gesloten", closed_at=closed, outcome=outcome)
        if outcome.startswith("blijft_"):
            for months in (3, 6, 12):
                due = closed + timedelta(days=30 * months)
                answered = due < self.now
                rows["nazorg"].append({
                    "case_id": case["id"], "months": months, "due_date": due.date(),
                    "answered_at": due if answered else None,
                    "still_housed": rnd.random() < 0.9 if answered else None,
                    "paying": rnd.random() < 0.8 if answered else None})


async def load(services: Services, history: History, count: int, closed: bool) -> None:
    """Insert `count` more cases (with their rows), chunk by chunk."""
    for rows in history.chunks(count, closed):
        async with services.transaction() as session:
            connection = await session.connection()
            for name, model in TABLES:
                if rows[name]:
                    await connection.execute(insert(cast(Table, model.__table__)), rows[name])


async def analyze(services: Services) -> None:
    """Gather statistics (SQLite's planner changes with them). On PostgreSQL the id sequences
    are moved past the loaded rows first, and VACUUM runs too: a bulk load leaves work for
    autovacuum, which would otherwise run during the timed queries, and a table that was
    vacuumed (as autovacuum keeps a live one) allows index-only scans."""
    async with services.transaction() as session:
        postgresql = session.get_bind().dialect.name == "postgresql"
        if postgresql:  # explicit ids skipped the sequences
            for table in ("cases", "meetings", "agenda_items"):
                await session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"))
        else:
            await session.execute(text("ANALYZE"))
    if postgresql:
        engine = services.sessions.kw["bind"]
        async with engine.connect() as connection:  # VACUUM runs outside a transaction
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
