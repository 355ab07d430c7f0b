"""`/rapport [van] [tot]`: the half-yearly evaluation figures, a chart and a CSV export.

The use case returns figures and rows only (`MonthChart`, `CaseExport`); `messages/` draws the
chart and writes the CSV (`messages.rapport`), when a door delivers the files.

Every figure is defined in docs/cijfers.md. Counts, outcomes, lead times and the chart's
months come from the rollups (`commands.rollups`: counts and lead-time histograms per day and
per month), added up by the database with GROUP BY, so a report costs the same however long
the history is; medians and percentiles (nearest rank) come from the histograms, which have one
bucket per whole day and so give exactly the cases' own values. Nazorg and the CSV rows are
read from their tables. The period is a range of calendar dates in Europe/Amsterdam, both ends
included: whole days of the rollups, and for the CSV the half-open UTC interval
[van 00:00, tot + 1 dag 00:00).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    case,
    cast,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from commands.context import Services
from commands.figures import OUTCOME_GROUPS, CaseExport, CsvRow, MonthChart, MonthCounts
from commands.organisation import Member, Organisation
from commands.permissions import whom_to_ask
from commands.replies import Attachment, CommandRefused, FileToMake, Message, Result
from commands.rollups import DAY, FILED, MONTH, WHOLE_CASE, ensure_counted, local_date
from commands.status import Scope, partner_name, team_name
from commands.validation import FieldProblem, parse_date
from commands.words import Outcome
from store.models import Case, CaseCategory, Decision, NazorgCheck, RollupCount, RollupLeadTime

RAPPORT_ROLES = ("coordinator", "admin", "voorzitter")
DEFAULT_MONTHS = 6
LONGEST_PERIOD_DAYS = 10 * 366

# Outcomes (Case.outcome) and the group each one counts in.
OUTCOMES: tuple[str, ...] = tuple(Outcome)
WITHDRAWN = Outcome.INGETROKKEN

# Reference costs (Valente, pilot "Voorkomen huisuitzetting"), in cents.
COST_EVICTION = 7_500_00
COST_FOLLOW_UP = 11_000_00
COST_SHELTER_YEAR = 100_000_00
COST_DEBT_HELP_YEAR = 2_800_00
COST_SOURCE = "Valente, pilot Voorkomen huisuitzetting"

# Lead times: name → (from, to); see docs/cijfers.md.
LEAD_TIMES = ("melding_besluit", "besluit_sluiting", "melding_sluiting")
DIMENSIONS = ("totaal", "regieteam", "corporatie", "huishouden")
SECONDS_PER_DAY = 86400


def outcome_group(outcome: str | None) -> str:
    """voorkomen (the tenant stays), vertrokken (left by themselves), uitgezet, ingetrokken."""
    if outcome is None or outcome not in OUTCOMES:
        return "anders"
    if outcome.startswith("blijft_"):
        return "voorkomen"
    if outcome.startswith("uitgezet_"):
        return "uitgezet"
    if outcome == WITHDRAWN:
        return "ingetrokken"
    return "vertrokken"


# --- the period ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Calendar dates `van`..`tot` (both included) in Amsterdam, as UTC instants [start, end)."""

    van: date
    tot: date
    start: datetime
    end: datetime
    zone: ZoneInfo

    def contains(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start, column < self.end)

    def months(self) -> list[tuple[date, datetime, datetime]]:
        """Each calendar month that overlaps the period, clipped to it."""
        result = []
        first = self.van.replace(day=1)
        while first <= self.tot:
            following = _add_months(first, 1)
            start = max(self.start, self.midnight(first))
            end = min(self.end, self.midnight(following))
            result.append((first, start, end))
            first = following
        return result

    def midnight(self, day: date) -> datetime:
        """The start of `day` in Amsterdam, as a UTC instant."""
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)


def _add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), clamped to the end of the month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month + 1, min(day.day, last))


def make_period(services: Services, van: date, tot: date) -> Period:
    zone = services.timezone
    start = datetime.combine(van, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(tot + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return Period(van, tot, start, end, zone)


def parse_period(services: Services, van: str | None, tot: str | None) -> Period:
    """The asked period; without dates the last half year up to and including today."""
    end_day = _parse_bound("tot", tot) if tot else services.today()
    start_day = (_parse_bound("van", van) if van
                 else _add_months(end_day, -DEFAULT_MONTHS) + timedelta(days=1))
    if start_day > end_day:
        raise CommandRefused("rapport/periode_omgekeerd", van=start_day, tot=end_day)
    if (end_day - start_day).days > LONGEST_PERIOD_DAYS:
        raise CommandRefused("rapport/periode_te_lang", jaren=LONGEST_PERIOD_DAYS // 366)
    return make_period(services, start_day, end_day)


def _parse_bound(which: str, text: str) -> date:
    try:
        return parse_date(text)
    except FieldProblem as problem:
        raise CommandRefused("rapport/datum_onjuist", grens=which,
                             bestaat_niet=problem.template == "datum_bestaat_niet") from None


# --- who may ask -----------------------------------------------------------------------------


def rapport_scope(org: Organisation, member: Member) -> Scope:
    """Coordinator and admin: every case; a chair: the cases of their Regieteam(s)."""
    if member.has_role("coordinator", "admin"):
        return Scope(everything=True)
    if member.has_role("voorzitter"):
        teams = tuple(t.id for t in org.regieteams if org.belongs_to(member, t.id))
        return Scope(regieteams=teams)
    raise CommandRefused("fout/geen_rol", rollen=list(RAPPORT_ROLES), vraag=whom_to_ask(org))


# --- SQL building blocks ---------------------------------------------------------------------


def days_between(dialect: str, earlier: Any, later: Any) -> ColumnElement[int]:
    """Whole days of 24 hours from `earlier` to `later`, rounded down."""
    if dialect == "postgresql":
        seconds = func.extract("epoch", later - earlier)
        return cast(func.floor(seconds / SECONDS_PER_DAY), Integer)
    seconds_sqlite = (cast(func.strftime("%s", later), Integer)
                      - cast(func.strftime("%s", earlier), Integer))
    return seconds_sqlite // SECONDS_PER_DAY


def decided_at() -> Any:
    """When the Regieteam decided: the first decision that still stands (a reopened decision is
    replaced by the new one)."""
    return (select(func.min(Decision.recorded_at))
            .where(Decision.case_id == Case.id, Decision.superseded_at.is_(None))
            .correlate(Case).scalar_subquery())


# --- the figures -----------------------------------------------------------------------------


@dataclass
class Figures:
    """All numbers of one group (the whole, one Regieteam, one corporation, one category)."""

    naam: str
    meldingen: int = 0
    uitkomsten: dict[str, int] | None = None
    doorlooptijden: dict[str, dict[str, int | None]] | None = None

    def as_data(self) -> dict[str, Any]:
        outcomes = self.uitkomsten or {}
        groups = {g: 0 for g in OUTCOME_GROUPS}
        for outcome, number in outcomes.items():
            group = outcome_group(outcome)
            groups[group] = groups.get(group, 0) + number
        counted = sum(n for g, n in groups.items() if g != "ingetrokken")
        return {
            "naam": self.naam,
            "meldingen": self.meldingen,
            "uitkomsten": dict(sorted(outcomes.items(), key=lambda kv: _outcome_order(kv[0]))),
            "groepen": groups,
            "gesloten": counted,
            "percentage_voorkomen": round(100 * groups["voorkomen"] / counted) if counted else None,
            "doorlooptijden": self.doorlooptijden or {m: _no_lead_time() for m in LEAD_TIMES},
        }


def _outcome_order(outcome: str) -> int:
    return OUTCOMES.index(outcome) if outcome in OUTCOMES else len(OUTCOMES)


def _no_lead_time() -> dict[str, int | None]:
    return {"aantal": 0, "mediaan": None, "p90": None}


Counts = dict[str, dict[str, int]]
OutcomeCounts = dict[str, dict[str, dict[str, int]]]
ROLLUP_COUNTS: Table = RollupCount.__table__  # type: ignore[assignment]
ROLLUP_LEAD_TIMES: Table = RollupLeadTime.__table__  # type: ignore[assignment]


def rollup_scope(scope: Scope, table: Table) -> ColumnElement[bool]:
    """The scope on a rollup table. A report's scope is everything or some Regieteams
    (`rapport_scope`); the rollups count per Regieteam."""
    if scope.everything:
        return true()
    if scope.regieteams:
        return table.c.regieteam_id.in_(scope.regieteams)
    return false()


def in_rollup(table: Table, scope: Scope, period: Period) -> ColumnElement[bool]:
    """The rollup rows that together count the period's days (Amsterdam dates, both ends
    included) once: the month rows of the months it holds whole, the day rows of the (at most
    two) months it cuts."""
    whole: list[date] = []
    parts: list[ColumnElement[bool]] = []
    for first, _start, _end in period.months():
        last = _add_months(first, 1) - timedelta(days=1)
        van, tot = max(first, period.van), min(last, period.tot)
        if (van, tot) == (first, last):
            whole.append(first)
        else:
            parts.append(and_(table.c.span == DAY, table.c.day.between(van, tot)))
    if whole:
        parts.append(and_(table.c.span == MONTH, table.c.day.in_(whole)))
    return and_(or_(*parts), rollup_scope(scope, table))


def _groups_of(team: str, corporation: str, category: str) -> dict[str, str]:
    """The group a rollup row counts in, per dimension: a row of the case itself counts in the
    whole, its Regieteam and its corporation; a row with a category in that category."""
    if category != WHOLE_CASE:
        return {"huishouden": category}
    return {"totaal": "totaal", "regieteam": team, "corporatie": corporation}


@dataclass
class CountFigures:
    """The period's counts: meldingen and outcomes per dimension and group, the reasons of
    evictions, outcomes per scenario and prevented evictions of families with children."""

    meldingen: Counts = field(default_factory=lambda: {d: {} for d in DIMENSIONS})
    uitkomsten: OutcomeCounts = field(default_factory=lambda: {d: {} for d in DIMENSIONS})
    redenen: dict[str, int] = field(default_factory=dict)
    per_scenario: dict[str, dict[str, int]] = field(default_factory=dict)
    gezinnen: int = 0

    def count(self, kind: str, team: str, corporation: str, category: str, outcome: str,
              scenario: int, reason: str, children: bool, number: int) -> None:
        groups = _groups_of(team, corporation, category)
        if kind == FILED:
            for dimension, key in groups.items():
                counted = self.meldingen[dimension]
                counted[key] = counted.get(key, 0) + number
            return
        name = outcome or "onbekend"
        for dimension, key in groups.items():
            outcomes = self.uitkomsten[dimension].setdefault(key, {})
            outcomes[name] = outcomes.get(name, 0) + number
        if category != WHOLE_CASE:
            return
        if outcome.startswith("uitgezet_"):
            self.redenen[reason] = self.redenen.get(reason, 0) + number
        if outcome.startswith("blijft_") and children:
            self.gezinnen += number
        per = self.per_scenario.setdefault(str(scenario) if scenario in (1, 2) else "geen", {})
        per[name] = per.get(name, 0) + number

    def eviction_reasons(self) -> dict[str, int]:
        return dict(sorted(self.redenen.items(), key=lambda kv: (-kv[1], kv[0])))

    def outcomes_per_scenario(self) -> list[dict[str, Any]]:
        return [Figures(key, 0, self.per_scenario[key]).as_data()
                for key in sorted(self.per_scenario)]


async def count_figures(session: AsyncSession, scope: Scope, period: Period) -> CountFigures:
    """Every count of the report from the day rollups, in one query: the database adds up the
    period's days; what comes back is one row per cell (Regieteam, corporation, category,
    outcome, scenario, reason), not per case."""
    t = ROLLUP_COUNTS
    cell = (t.c.kind, t.c.regieteam_id, t.c.corporation_id, t.c.category, t.c.outcome,
            t.c.scenario, t.c.reason, t.c.children)
    query = select(*cell, func.sum(t.c.n)).where(in_rollup(t, scope, period)).group_by(*cell)
    figures = CountFigures()
    for kind, team, corporation, category, outcome, scenario, reason, children, number in (
            await session.execute(query)).all():
        figures.count(str(kind), str(team), str(corporation), str(category), str(outcome),
                      int(scenario), str(reason), bool(children), int(number))
    return figures


def case_ids(scope: Scope, period: Period, *, with_filed: bool = False) -> Select[Any]:
    """The ids of the cases decided in the period (a current decision recorded in it), closed
    in it, or (`with_filed`) filed in it. Each part of the UNION uses its own index
    (decisions.recorded_at, cases.closed_at, cases.filed_at)."""
    parts = [
        select(Decision.case_id).where(period.contains(Decision.recorded_at),
                                       Decision.superseded_at.is_(None)),
        select(Case.id).where(period.contains(Case.closed_at)),
    ]
    if with_filed:
        parts.append(select(Case.id).where(period.contains(Case.filed_at)))
    return select(Case.id).where(scope.condition(), Case.id.in_(union(*parts)))


def cohort(scope: Scope, period: Period, *, with_filed: bool = False) -> Any:
    """Those cases, one row each, with their decision moment computed once."""
    return (select(Case.id, Case.regieteam_id, Case.corporation_id, Case.filed_at,
                   Case.closed_at, Case.outcome, decided_at().label("decided_at"))
            .where(Case.id.in_(case_ids(scope, period, with_filed=with_filed))).cte("cohort"))


LeadTimes = dict[str, dict[str, dict[str, dict[str, int | None]]]]


def lead_time_histograms(scope: Scope, period: Period) -> Any:
    """The period's lead-time histograms (cases per whole number of days) per dimension and
    group, added up over the days by the database."""
    t = ROLLUP_LEAD_TIMES
    where = in_rollup(t, scope, period)
    whole = t.c.category == WHOLE_CASE

    def part(dimension: str, key: Any, *condition: Any, grouped: bool = True) -> Select[Any]:
        return (select(literal_column(f"'{dimension}'").label("dimensie"), key.label("sleutel"),
                       t.c.measure, t.c.days, func.sum(t.c.n).label("k"))
                .where(where, *condition)
                .group_by(*((key,) if grouped else ()), t.c.measure, t.c.days))

    return union_all(
        part("totaal", literal_column("'totaal'"), whole, grouped=False),
        part("regieteam", t.c.regieteam_id, whole),
        part("corporatie", t.c.corporation_id, whole),
        part("huishouden", t.c.category, t.c.category != WHOLE_CASE),
    )


def nearest_rank(buckets: list[tuple[int, int]], rank: int) -> int | None:
    """The smallest number of days whose running total of cases reaches `rank`."""
    running = 0
    for days, number in buckets:
        running += number
        if running >= rank:
            return days
    return None


async def lead_times(session: AsyncSession, scope: Scope, period: Period) -> LeadTimes:
    """Median and 90th percentile (nearest rank) per dimension, group and lead time, from the
    histograms: with one bucket per day the value at rank r = ceil(p·n) is exactly the one the
    cases themselves give."""
    histograms: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for dimension, key, measure, days, number in (
            await session.execute(lead_time_histograms(scope, period))).all():
        histograms.setdefault((str(dimension), str(key), str(measure)), []).append(
            (int(days), int(number)))
    result: LeadTimes = {dimension: {} for dimension in DIMENSIONS}
    for (dimension, key, measure), buckets in sorted(histograms.items()):
        buckets.sort()
        n = sum(number for _days, number in buckets)
        times = result[dimension].setdefault(key, {m: _no_lead_time() for m in LEAD_TIMES})
        times[measure] = {"aantal": n, "mediaan": nearest_rank(buckets, (n + 1) // 2),
                          "p90": nearest_rank(buckets, (n * 9 + 9) // 10)}
    return result


def figures_of(
    meldingen: dict[str, int], outcomes: dict[str, dict[str, int]],
    times: dict[str, dict[str, dict[str, int | None]]], name: Callable[[str], str],
) -> list[dict[str, Any]]:
    """One dimension's groups, each with all its figures, sorted by key."""
    keys = sorted(set(meldingen) | set(outcomes) | set(times))
    return [Figures(name(key), meldingen.get(key, 0), outcomes.get(key, {}), times.get(key))
            .as_data() for key in keys]


async def nazorg_results(session: AsyncSession, scope: Scope, period: Period) -> list[dict[str, Any]]:
    """Nazorg checks due in the period: answered, still housed, paying, both."""
    housed = NazorgCheck.still_housed.is_(True)
    paying = NazorgCheck.paying.is_(True)
    query = (select(NazorgCheck.months, func.count(), func.count(NazorgCheck.answered_at),
                    func.sum(case((housed, 1), else_=0)), func.sum(case((paying, 1), else_=0)),
                    func.sum(case((and_(housed, paying), 1), else_=0)))
             .join(Case, Case.id == NazorgCheck.case_id)
             .where(scope.condition(), NazorgCheck.due_date.between(period.van, period.tot))
             .group_by(NazorgCheck.months).order_by(NazorgCheck.months))
    return [{"maanden": int(months), "gepland": int(due), "beantwoord": int(answered),
             "woont": int(h or 0), "betaalt": int(p or 0), "beide": int(b or 0)}
            for months, due, answered, h, p, b in (await session.execute(query)).all()]


async def per_month(session: AsyncSession, scope: Scope, period: Period) -> list[MonthCounts]:
    """Meldingen and closures per outcome group, per calendar month (Amsterdam), from the day
    rollups."""
    t = ROLLUP_COUNTS
    query = (select(t.c.day, t.c.kind, t.c.outcome, func.sum(t.c.n))
             .where(in_rollup(t, scope, period), t.c.category == WHOLE_CASE)
             .group_by(t.c.day, t.c.kind, t.c.outcome))
    months = {first: MonthCounts(first) for first, _start, _end in period.months()}
    for day, kind, outcome, number in (await session.execute(query)).all():
        month = months[day.replace(day=1)]
        if kind == FILED:
            month.meldingen += int(number)
        else:
            month.add(outcome_group(outcome or None), int(number))
    return list(months.values())


# --- the CSV export --------------------------------------------------------------------------

CSV_COLUMNS = (
    "referentie", "regieteam", "corporatie", "huishouden", "minderjarige_kinderen", "reden",
    "fase", "scenario", "uitkomst", "uitkomstgroep", "gemeld_op", "besloten_op", "gesloten_op",
    "gemeld_in_periode", "besloten_in_periode", "gesloten_in_periode",
    "dagen_melding_besluit", "dagen_besluit_sluiting", "dagen_melding_sluiting",
)


STREAM_ROWS = 2000  # the case rows are read from the database in parts of this size


async def case_rows(
    services: Services, session: AsyncSession, scope: Scope, period: Period
) -> list[CsvRow]:
    """One row per case the figures are about: filed, decided or closed in the period, in the
    order of CSV_COLUMNS. Read as a stream (a server-side cursor on PostgreSQL), so a long
    history is never held twice in memory."""
    dialect = session.get_bind().dialect.name
    c = cohort(scope, period, with_filed=True)
    flags = [period.contains(c.c.filed_at), period.contains(c.c.decided_at),
             period.contains(c.c.closed_at)]
    query = (select(c.c.id, Case.reference, c.c.regieteam_id, c.c.corporation_id,
                    Case.minor_children, Case.reason, Case.phase, Case.scenario, c.c.outcome,
                    c.c.filed_at, c.c.decided_at, c.c.closed_at,
                    *(case((flag, 1), else_=0) for flag in flags),
                    days_between(dialect, c.c.filed_at, c.c.decided_at),
                    days_between(dialect, c.c.decided_at, c.c.closed_at),
                    days_between(dialect, c.c.filed_at, c.c.closed_at))
             .join(Case, Case.id == c.c.id).where(or_(*flags))
             .order_by(c.c.filed_at, c.c.id))
    categories = await _categories(session, case_ids(scope, period, with_filed=True))
    day = local_day(period.zone)
    rows = await session.stream(query.execution_options(yield_per=STREAM_ROWS))
    return [_csv_row(row, categories.get(row[0], ()), day) async for row in rows]


async def _categories(session: AsyncSession, ids: Select[Any]) -> dict[int, list[str]]:
    query = (select(CaseCategory.case_id, CaseCategory.category)
             .where(CaseCategory.case_id.in_(ids)).order_by(CaseCategory.category))
    result: dict[int, list[str]] = {}
    for case_id, category in (await session.execute(query)).all():
        result.setdefault(int(case_id), []).append(str(category))
    return result


def local_day(zone: ZoneInfo) -> Callable[[datetime | None], str]:
    """moment → its calendar date in `zone` (ISO). Offsets change only on whole hours, so the
    answer is remembered per hour of the moment's own wall clock (with its zone and fold)."""
    known: dict[tuple[Any, ...], str] = {}

    def day(moment: datetime | None) -> str:
        if moment is None:
            return ""
        key = (moment.year, moment.month, moment.day, moment.hour, moment.tzinfo, moment.fold)
        found = known.get(key)
        if found is None:
            found = known[key] = local_date(moment, zone)
        return found

    return day


def _csv_row(
    row: Any, categories: Iterable[str], day: Callable[[datetime | None], str]
) -> CsvRow:
    (_id, reference, team, corporation, children, reason, phase, scenario, outcome, filed,
     decided, closed, filed_in, decided_in, closed_in, to_decision, decision_to_closure,
     to_closure) = row
    counted = outcome != WITHDRAWN
    return (
        reference, team, corporation, ";".join(categories), children, reason, phase,
        scenario or "", outcome or "", outcome_group(outcome) if outcome else "",
        day(filed), day(decided), day(closed),
        _yes_no(filed_in), _yes_no(decided_in), _yes_no(closed_in),
        _blank(to_decision), _blank(decision_to_closure if counted else None),
        _blank(to_closure if counted else None),
    )


def _yes_no(flag: Any) -> str:
    return "ja" if flag else "nee"


def _blank(value: Any) -> str:
    return "" if value is None else str(int(value))


# --- /rapport --------------------------------------------------------------------------------


async def rapport(
    services: Services, member: Member, van: str | None = None, tot: str | None = None, *,
    export: bool = False,
) -> Result:
    """The evaluation figures for the period, with a chart (PNG), and with `export` a CSV of
    the case rows: the files hold the months' counts and the rows; `messages.files` draws and
    writes them. The figures come from the rollups; the rows are read only when asked."""
    org = services.org
    scope = rapport_scope(org, member)
    period = parse_period(services, van, tot)
    await ensure_counted(services)
    async with services.transaction() as session:
        await _without_jit(session)
        months = await per_month(session, scope, period)
        data = await rapport_figures(session, org, scope, period)
        rows = await case_rows(services, session, scope, period) if export else None
    stem = f"rapport_{_scope_name(scope)}_{period.van.isoformat()}_{period.tot.isoformat()}"
    files: list[Attachment | FileToMake] = [
        FileToMake(f"{stem}.png", MonthChart(months), "bestand.grafiek")]
    if rows is not None:
        files.append(FileToMake(f"{stem}.csv", CaseExport(CSV_COLUMNS, rows), "bestand.csv"))
        data["casussen_in_export"] = len(rows)
    data["export"] = rows is not None
    data["periode_woorden"] = _period_words(van, tot)
    return Result(replies=[Message("rapport/rapport", data)], files=files, value=data)


def _period_words(van: str | None, tot: str | None) -> str:
    """The period as the member typed it, for the hint how to ask for the CSV as well."""
    return " ".join(bound for bound in (van, tot) if bound)


async def _without_jit(session: AsyncSession) -> None:
    """PostgreSQL's JIT compiler spends more time compiling these short queries (correlated
    sub-selects make the planner's cost estimate high) than it saves: off for this
    transaction only."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))


async def rapport_figures(
    session: AsyncSession, org: Organisation, scope: Scope, period: Period
) -> dict[str, Any]:
    names: dict[str, Callable[[str], str]] = {
        "totaal": lambda key: "totaal",
        "regieteam": lambda key: team_name(org, key),
        "corporatie": lambda key: partner_name(org, key),
        "huishouden": lambda key: key,
    }
    counts = await count_figures(session, scope, period)
    times = await lead_times(session, scope, period)
    per = {dim: figures_of(counts.meldingen[dim], counts.uitkomsten[dim], times[dim], names[dim])
           for dim in DIMENSIONS}
    total = per.pop("totaal")
    whole = total[0] if total else Figures("totaal").as_data()
    return {
        "van": period.van, "tot": period.tot, "alles": scope.everything,
        "totaal": whole,
        "redenen_uitzetting": counts.eviction_reasons(),
        "per_scenario": counts.outcomes_per_scenario(),
        "nazorg": await nazorg_results(session, scope, period),
        "kosten": avoided_costs(whole["groepen"]["voorkomen"], counts.gezinnen),
        "per": per,
    }


def avoided_costs(prevented: int, families: int) -> dict[str, Any]:
    """An estimate: each prevented eviction saves the corporation's eviction costs and the
    follow-up costs (Valente). Shelter for families is named, not added: 'up to' is a ceiling."""
    per_case = COST_EVICTION + COST_FOLLOW_UP
    return {
        "voorkomen": prevented, "per_casus": per_case, "totaal": prevented * per_case,
        "ontruiming": COST_EVICTION, "vervolg": COST_FOLLOW_UP,
        "gezinnen": families, "opvang_jaar": COST_SHELTER_YEAR,
        "schuldhulp_jaar": COST_DEBT_HELP_YEAR, "bron": COST_SOURCE,
    }


def _scope_name(scope: Scope) -> str:
    """Part of a report's file name, so that reports of different scopes never overwrite each
    other: "alle" for the coordinator's, the Regieteam ids for a chair's."""
    return "alle" if scope.everything else "-".join(scope.regieteams) or "eigen"

