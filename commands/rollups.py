"""The figure rollups that `/rapport` reads: counts and lead-time histograms per calendar day
(Amsterdam), kept up to date in the transaction that changes a case, and rebuilt from the
cases with `regiebot cijfers herbereken`.

A case adds a few *cells* to the rollups: one count on the day it was filed, one on the day it
was closed (with its outcome), the whole days of each lead time on the day that lead time ends,
and each of those once more per household category. `case_cells` computes them from the case
alone; `refresh_case_figures` takes the case's stored cells away and adds the new ones, so a
change (filing, decision, reopening, closing, household correction) is counted exactly once.
The definitions are those of docs/cijfers-techniek.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from commands.context import Services, aware
from commands.words import Outcome
from store.models import (
    Case,
    CaseCategory,
    Decision,
    RollupCase,
    RollupCount,
    RollupLeadTime,
    RollupState,
)

FILED = "gemeld"
CLOSED = "gesloten"
WHOLE_CASE = ""  # the category of the cells that count the case itself
NO_SCENARIO = 0
ONE_DAY = timedelta(days=1)
REBUILD_BATCH = 2000  # cases read at a time
FLUSH_EVERY = 20_000  # cases whose cells are added up before they are written
DAY, MONTH = "dag", "maand"  # the span of a rollup row
STATE_ROW = 1

COUNTS: Table = RollupCount.__table__  # type: ignore[assignment]
LEAD_TIMES: Table = RollupLeadTime.__table__  # type: ignore[assignment]
CASES: Table = RollupCase.__table__  # type: ignore[assignment]
COUNT_KEY = ("span", "day", "kind", "regieteam_id", "corporation_id", "category", "outcome", "scenario",
             "reason", "children")
LEAD_TIME_KEY = ("span", "day", "measure", "regieteam_id", "corporation_id", "category", "days")

CountCell = tuple[str, str, str, str, str, str, int, str, bool]
LeadTimeCell = tuple[str, str, str, str, str, int]


@dataclass(frozen=True)
class CaseFacts:
    """What the figures need to know of one case."""

    regieteam_id: str
    corporation_id: str
    categories: tuple[str, ...]
    filed_at: datetime
    decided_at: datetime | None  # the first decision that still stands
    closed_at: datetime | None
    outcome: str | None
    scenario: int | None
    reason: str
    minor_children: int


@dataclass
class Cells:
    counts: Counter[CountCell]
    lead_times: Counter[LeadTimeCell]

    def as_data(self) -> dict[str, Any]:
        return {"counts": sorted(list(c) for c in self.counts.elements()),
                "lead_times": sorted(list(c) for c in self.lead_times.elements())}

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> Cells:
        data = data or {}
        return cls(Counter(tuple(c) for c in data.get("counts", ())),
                   Counter(tuple(c) for c in data.get("lead_times", ())))


def whole_days(earlier: datetime, later: datetime) -> int:
    """Whole days of 24 hours from `earlier` to `later`, rounded down."""
    return (aware(later) - aware(earlier)) // ONE_DAY


def local_date(moment: datetime, zone: ZoneInfo) -> str:
    return aware(moment).astimezone(zone).date().isoformat()


def case_cells(facts: CaseFacts, zone: ZoneInfo) -> Cells:
    counts: Counter[CountCell] = Counter()
    times: Counter[LeadTimeCell] = Counter()
    team, corporation = facts.regieteam_id, facts.corporation_id
    # the case itself per (Regieteam, corporation); per category only per Regieteam (the
    # report's scope), as no figure splits a category by corporation
    groups = [(corporation, WHOLE_CASE), *(("", category) for category in facts.categories)]
    filed_day = local_date(facts.filed_at, zone)
    for corp, category in groups:
        counts[(filed_day, FILED, team, corp, category, "", NO_SCENARIO, "", False)] += 1
    if facts.decided_at is not None:
        decided_day = local_date(facts.decided_at, zone)
        days = whole_days(facts.filed_at, facts.decided_at)
        for corp, category in groups:
            times[(decided_day, "melding_besluit", team, corp, category, days)] += 1
    if facts.closed_at is not None:
        closed_day = local_date(facts.closed_at, zone)
        outcome = facts.outcome or ""
        scenario = facts.scenario if facts.scenario in (1, 2) else NO_SCENARIO
        counts[(closed_day, CLOSED, team, corporation, WHOLE_CASE, outcome, scenario,
                facts.reason, facts.minor_children > 0)] += 1
        for category in facts.categories:
            counts[(closed_day, CLOSED, team, "", category, outcome, NO_SCENARIO, "", False)] += 1
        if facts.outcome != Outcome.INGETROKKEN:
            measures = [("melding_sluiting", whole_days(facts.filed_at, facts.closed_at))]
            if facts.decided_at is not None:
                measures.append(("besluit_sluiting",
                                 whole_days(facts.decided_at, facts.closed_at)))
            for measure, days in measures:
                for corp, category in groups:
                    times[(closed_day, measure, team, corp, category, days)] += 1
    return Cells(counts, times)


def facts_of(case: Case, decided_at: datetime | None) -> CaseFacts:
    return CaseFacts(case.regieteam_id, case.corporation_id, tuple(sorted(case.category_names)),
                     case.filed_at, decided_at, case.closed_at, case.outcome, case.scenario,
                     case.reason, case.minor_children)


async def standing_decision_moment(session: AsyncSession, case_id: int) -> datetime | None:
    return await session.scalar(select(func.min(Decision.recorded_at)).where(
        Decision.case_id == case_id, Decision.superseded_at.is_(None)))


# --- keeping the rollups up to date ----------------------------------------------------------


async def refresh_case_figures(session: AsyncSession, services: Services, case: Case) -> None:
    """Count the case's current state in the rollups instead of what was counted before, in the
    caller's transaction (call it after the change, with the case row locked)."""
    await session.flush()
    decided_at = await standing_decision_moment(session, case.id)
    new = case_cells(facts_of(case, decided_at), services.timezone)
    stored = await session.get(RollupCase, case.id)
    old = Cells.from_data(stored.cells if stored is not None else None)
    await apply_changes(session, COUNTS, COUNT_KEY,
                        with_months(_difference(new.counts, old.counts)))
    await apply_changes(session, LEAD_TIMES, LEAD_TIME_KEY,
                        with_months(_difference(new.lead_times, old.lead_times)))
    if stored is None:
        session.add(RollupCase(case_id=case.id, cells=new.as_data()))
    else:
        stored.cells = new.as_data()


def with_months(cells: Mapping[Any, int]) -> dict[Any, int]:
    """The rows a case's cells change: each day's cell, and the same cell of its month (whose
    day is the first of the month). A report reads whole months from the month rows and only
    the days of a month it cuts in two from the day rows."""
    rows: dict[Any, int] = {}
    for cell, number in cells.items():
        rows[(DAY, *cell)] = rows.get((DAY, *cell), 0) + number
        month = (MONTH, f"{cell[0][:7]}-01", *cell[1:])
        rows[month] = rows.get(month, 0) + number
    return {row: number for row, number in rows.items() if number}


def _difference(new: Counter[Any], old: Counter[Any]) -> dict[Any, int]:
    changes = {cell: new[cell] - old[cell] for cell in set(new) | set(old)}
    return {cell: change for cell, change in changes.items() if change}


async def apply_changes(session: AsyncSession, table: Table, key: Sequence[str],
                        changes: dict[Any, int]) -> None:
    """Add each change to its cell (an upsert); cells that reach zero are removed. In the
    order of the cells, so that two transactions never wait for each other in a circle."""
    if not changes:
        return
    cells = sorted(changes)
    rows = [{**_key_values(key, cell), "n": changes[cell]} for cell in cells]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table)
    await session.execute(statement.on_conflict_do_update(
        index_elements=list(key), set_={"n": table.c.n + statement.excluded.n}), rows)
    for cell in cells:
        if changes[cell] < 0:
            values = _key_values(key, cell)
            await session.execute(delete(table).where(
                and_(*(table.c[name] == value for name, value in values.items())),
                table.c.n <= 0))


def _key_values(key: Sequence[str], cell: Sequence[Any]) -> dict[str, Any]:
    values = dict(zip(key, cell, strict=True))
    values["day"] = date.fromisoformat(values["day"])
    return values


# --- rebuilding from the cases ---------------------------------------------------------------


@dataclass(frozen=True)
class Rebuilt:
    cases: int
    count_rows: int
    lead_time_rows: int


async def rebuild_figures(services: Services) -> Rebuilt:
    """Throw the rollups away and count every case again, in one transaction. The cells are
    added up in memory for `FLUSH_EVERY` cases at a time, then written."""
    async with services.transaction() as session:
        await _lock_rollups(session)
        for table in (CASES, COUNTS, LEAD_TIMES):
            await session.execute(delete(table))
        pending = Cells(Counter(), Counter())
        total = waiting = 0
        async for batch in _case_facts(session):
            per_case = [(case_id, case_cells(facts, services.timezone)) for case_id, facts in batch]
            for _case_id, cells in per_case:
                pending.counts.update(cells.counts)
                pending.lead_times.update(cells.lead_times)
            await session.execute(CASES.insert(), [
                {"case_id": case_id, "cells": cells.as_data()} for case_id, cells in per_case])
            total, waiting = total + len(per_case), waiting + len(per_case)
            if waiting >= FLUSH_EVERY:
                await _write(session, pending)
                pending, waiting = Cells(Counter(), Counter()), 0
        await _write(session, pending)
        await session.execute(delete(RollupState))
        session.add(RollupState(id=STATE_ROW, counted=True))
        count_rows = await session.scalar(select(func.count()).select_from(COUNTS))
        lead_time_rows = await session.scalar(select(func.count()).select_from(LEAD_TIMES))
    return Rebuilt(total, int(count_rows or 0), int(lead_time_rows or 0))


async def _write(session: AsyncSession, cells: Cells) -> None:
    await apply_changes(session, COUNTS, COUNT_KEY, with_months(cells.counts))
    await apply_changes(session, LEAD_TIMES, LEAD_TIME_KEY, with_months(cells.lead_times))


async def ensure_counted(services: Services) -> None:
    """Count every case first if the rollups do not hold them all yet (the first report after
    the upgrade that added the rollups)."""
    async with services.transaction() as session:
        state = await session.get(RollupState, STATE_ROW)
        counted = state is not None and state.counted
    if not counted:
        await rebuild_figures(services)


async def _lock_rollups(session: AsyncSession) -> None:
    """PostgreSQL: changes to cases wait until the rebuild is done (SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("LOCK TABLE rollup_counts, rollup_lead_times, rollup_cases, "
                                   "rollup_state IN SHARE ROW EXCLUSIVE MODE"))


async def _case_facts(session: AsyncSession) -> Any:
    """Every case's facts, in batches of ids."""
    last = 0
    while True:
        cases = (await session.execute(
            select(Case.id, Case.regieteam_id, Case.corporation_id, Case.filed_at,
                   Case.closed_at, Case.outcome, Case.scenario, Case.reason, Case.minor_children)
            .where(Case.id > last).order_by(Case.id).limit(REBUILD_BATCH))).all()
        if not cases:
            return
        first, last = cases[0].id, cases[-1].id
        categories = await _categories_between(session, first, last)
        decided = await _decisions_between(session, first, last)
        yield [(row.id, CaseFacts(row.regieteam_id, row.corporation_id,
                                  tuple(sorted(categories.get(row.id, ()))), row.filed_at,
                                  decided.get(row.id), row.closed_at, row.outcome, row.scenario,
                                  row.reason, row.minor_children)) for row in cases]


async def _categories_between(session: AsyncSession, first: int, last: int) -> dict[int, list[str]]:
    rows = await session.execute(select(CaseCategory.case_id, CaseCategory.category).where(
        CaseCategory.case_id.between(first, last)))
    result: dict[int, list[str]] = {}
    for case_id, category in rows.all():
        result.setdefault(case_id, []).append(category)
    return result


async def _decisions_between(session: AsyncSession, first: int, last: int) -> dict[int, datetime]:
    rows = await session.execute(
        select(Decision.case_id, func.min(Decision.recorded_at))
        .where(Decision.case_id.between(first, last), Decision.superseded_at.is_(None))
        .group_by(Decision.case_id))
    return {case_id: moment for case_id, moment in rows.all()}


async def rollup_rows(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup row, in key order (to compare a maintained rollup with a rebuilt one)."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    for name, table, key in (("counts", COUNTS, COUNT_KEY), ("lead_times", LEAD_TIMES, LEAD_TIME_KEY)):
        columns = [table.c[k] for k in key]
        rows = await session.execute(select(*columns, table.c.n).order_by(*columns))
        result[name] = [tuple(row) for row in rows.all()]
    return result
