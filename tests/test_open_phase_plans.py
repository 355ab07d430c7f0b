"""The agenda, App Home and `/status` read open cases through the partial indexes on the open
phases, so a long closed history does not make them slower. Checked with the planner itself, on
SQLite (EXPLAIN QUERY PLAN) and PostgreSQL (EXPLAIN (FORMAT JSON)), after ANALYZE, on the very
statements the commands build. No timing here: speed is measured by `make bench`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Executable, Select, Table, insert, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement

from bench.data import History, analyze, load
from commands import agenda, home, status
from commands.context import Services
from store.models import OPEN_CASE_INDEXES, Case, Reminder

CLOSED = 8_000
OPEN = 300
LEAD_CASEMANAGER = "dirk"  # leads every closed case as well: a long personal history


class Explain(Executable, ClauseElement):
    """EXPLAIN of a statement, compiled (and its parameters bound) as the command runs it."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


def _statement(compiler: Any, element: Explain, **kw: Any) -> str:
    sql = compiler.process(element.statement, **kw)
    compiler._result_columns = []  # the rows are the plan, not the statement's columns
    return str(sql)


@compiles(Explain, "sqlite")
def _explain_sqlite(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN QUERY PLAN " + _statement(compiler, element, **kw)


@compiles(Explain, "postgresql")
def _explain_postgresql(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + _statement(compiler, element, **kw)


async def _history(services: Services) -> None:
    """Many closed cases and a few open ones, then statistics."""
    history = History(services.org, services.now(), b"versleuteld")
    await load(services, history, CLOSED, closed=True)
    await load(services, history, OPEN, closed=False)
    async with services.transaction() as session:
        await session.execute(update(Case).where(Case.phase == "gesloten").values(
            casemanager_id=LEAD_CASEMANAGER, termijn=Case.filed_at))
        cases = (await session.execute(select(Case.id, Case.phase))).all()
        await session.execute(insert(cast(Table, Reminder.__table__)), _requests(services, cases))
    await analyze(services)


def _requests(services: Services, cases: list[Any]) -> list[dict[str, Any]]:
    """MBZ and Jeugdbescherming requests: answered or cancelled for every closed case, still
    waiting for a third of the open ones."""
    now = services.now()
    rows = []
    for case_id, phase in cases:
        closed = phase == "gesloten"
        if not closed and case_id % 3:
            continue
        for kind in ("mbz", "jeugdbescherming"):
            rows.append({"dedupe_key": f"{kind}:{case_id}", "kind": kind, "case_id": case_id,
                         "due_at": now - timedelta(days=40 if closed else 2), "sent_at": now,
                         "done_at": now if closed and kind == "mbz" else None,
                         "cancelled_at": now if closed and kind != "mbz" else None})
    return rows


def _statements(services: Services, meeting: Any) -> dict[str, Select[Any]]:
    today = services.today()
    team = services.org.regieteams[0].id
    corporation = next(iter(p.id for p in services.org.partners_of_kind("corporatie")))
    scopes = {"alles": status.Scope(everything=True), "voorzitter": status.Scope(regieteams=(team,)),
              "melder": status.Scope(corporation=corporation),
              "casemanager": status.Scope(casemanager=LEAD_CASEMANAGER)}
    found: dict[str, Select[Any]] = {
        "agenda": agenda.candidates_query(services, meeting),
        "home casemanager": home.casemanager_cases_query(LEAD_CASEMANAGER),
        "home team": home.team_cases_query([team]),
        "home sluiten": home.closable_cases_query([team]),
        "home melder": home.melder_cases_query(corporation),
    }
    for name, scope in scopes.items():
        where = scope.condition()
        found[f"status {name} tellingen"] = status.open_case_counts_query(where)
        lists = {
            "wacht op besluit": (status.awaiting_decision(where), status.urgency_order()),
            "termijn verlopen": (status.overdue_termijn(where, today), (Case.termijn,)),
            "termijn binnenkort": (status.termijn_soon(where, today), (Case.termijn,)),
            "terugkoppeling": (status.terugkoppeling_due(where, today), (Case.next_terugkoppeling,)),
        }
        for list_name, (condition, order) in lists.items():
            found[f"status {name} {list_name}"] = status.case_list_query(
                condition, order, status.FULL_LIST)
        found[f"status {name} bevestigingen tellingen"] = status.confirmation_counts_query(
            where, services.now())
        found[f"status {name} bevestigingen lijst"] = status.confirmation_list_query(
            where, services.now(), status.FULL_LIST)
    return found


# SQLite: how a plan step may read a table. Cases: through a partial index on the open phases,
# by seeking the open phases one by one in an index that has the phase, or one row by its key
# (reached from an open request). Reminders: through the partial index on open requests, or
# per open case.
SQLITE_ALLOWED = {
    "cases": re.compile(r"USING (COVERING )?INDEX ix_cases_open_"
                        r"|^SEARCH cases USING (COVERING )?INDEX \w+ \(.*\bphase=\?"
                        r"|^SEARCH cases USING INTEGER PRIMARY KEY"),
    "reminders": re.compile(r"USING (COVERING )?INDEX ix_reminders_open_"
                            r"|^SEARCH reminders USING (COVERING )?INDEX ix_reminders_case "),
}
STEP = re.compile(r"^(SCAN|SEARCH) (\w+)\b")


def _sqlite_problems(plan: list[Any]) -> list[str]:
    """Every step that reads `cases` or `reminders` skips the closed history (see above)."""
    steps = [(m.group(2), row[3]) for row in plan if (m := STEP.match(row[3]))]
    steps = [(table, step) for table, step in steps if table in SQLITE_ALLOWED]
    wrong = [step for table, step in steps if not SQLITE_ALLOWED[table].search(step)]
    return wrong or ([] if steps else ["geen stap op cases"])


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _pg_index_allowed(node: dict[str, Any]) -> bool:
    name = node["Index Name"]
    if name.startswith("ix_cases"):
        return name in OPEN_CASE_INDEXES or "phase" in node.get("Index Cond", "")
    if name.startswith("ix_reminders"):
        return name in ("ix_reminders_open_kind", "ix_reminders_case")
    return True  # primary keys and the indexes of other tables


def _postgresql_problems(plan: list[Any]) -> list[str]:
    """No sequential scan of `cases` or `reminders`; their indexes skip the closed history."""
    nodes = list(_nodes(plan[0]["Plan"]))
    problems = [f"{n['Node Type']} op {n['Relation Name']}" for n in nodes
                if n.get("Relation Name") in ("cases", "reminders") and n["Node Type"] == "Seq Scan"]
    used = [n for n in nodes if "Index Name" in n]
    problems += [f"index {n['Index Name']} ({n.get('Index Cond', '')})" for n in used
                 if not _pg_index_allowed(n)]
    if not used:
        problems.append("geen index gebruikt")
    return problems


async def test_open_case_queries_use_the_open_phase_indexes(services: Services) -> None:
    await _history(services)
    team = services.org.regieteams[0].id
    wrong: dict[str, Any] = {}
    async with services.transaction() as session:
        meeting = await agenda.meeting_for(session, services, team,
                                           agenda.next_meeting_date(services, team))
        kind = session.get_bind().dialect.name
        for name, statement in _statements(services, meeting).items():
            rows = (await session.execute(Explain(statement))).all()
            if kind == "sqlite":
                problems = _sqlite_problems([tuple(row) for row in rows])
                plan: Any = [row[3] for row in rows]
            else:
                plan = rows[0][0]
                problems = _postgresql_problems(plan)
            if problems:
                wrong[name] = (problems, plan)
    assert not wrong, wrong


@pytest.mark.parametrize("name", sorted(OPEN_CASE_INDEXES))
def test_open_phase_indexes_are_partial(name: str) -> None:
    index = next(i for i in Case.__table__.indexes if i.name == name)
    for dialect in ("sqlite", "postgresql"):
        assert str(index.dialect_options[dialect]["where"]) == "phase != 'gesloten'"
