"""A member's own work at a glance (the Slack App Home): the cases they follow, per role.

Platform-neutral: each section is a name and the plain values its template needs; a door
renders it (Slack: `bot/slack/home.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Select, func, select

from commands.context import Services
from commands.organisation import Member
from commands.permissions import is_chair_of
from commands.words import OPEN_PHASES, UNDECIDED_PHASES, Phase
from store.models import Case, open_case

LIST_LIMIT = 30
CLOSE_LIMIT = 20  # cases in uitvoering offered for closing (one button each)

SectionName = Literal["casemanager", "team", "sluiten", "coordinator", "melder"]


@dataclass(frozen=True)
class HomeSection:
    """One part of the overview: `name` says which, `data` holds its values. `cases` are the
    rows shown (for "sluiten": the cases that get a close button)."""

    name: SectionName
    data: dict[str, Any] = field(default_factory=dict)
    cases: tuple[dict[str, Any], ...] = ()


def case_row(case: Case) -> dict[str, Any]:
    """What a list shows of a case: no personal data."""
    return {
        "referentie": case.reference, "fase": case.phase, "termijn": case.termijn,
        "terugkoppeling": case.next_terugkoppeling, "team": case.regieteam_id,
        "ingediend": case.filed_at, "spoed_datum": case.urgency_date,
    }


def _rows(cases: Sequence[Case]) -> tuple[dict[str, Any], ...]:
    return tuple(case_row(c) for c in cases)


# The lists read open cases only, through the partial indexes on the open phases (`open_case()`).


def casemanager_cases_query(member_id: str) -> Select[Case]:
    """The open cases this member leads as casemanager, nearest termijn first."""
    return (select(Case).where(Case.casemanager_id == member_id, open_case())
            .order_by(Case.termijn).limit(LIST_LIMIT))


def team_cases_query(teams: Sequence[str]) -> Select[Case]:
    """The undecided cases of these Regieteams, most urgent first."""
    return (select(Case).where(Case.regieteam_id.in_(teams), open_case(),
                               Case.phase.in_(UNDECIDED_PHASES))
            .order_by(Case.urgency_date, Case.filed_at).limit(LIST_LIMIT))


def closable_cases_query(teams: Sequence[str]) -> Select[Case]:
    """Cases in uitvoering of these Regieteams, offered for closing."""
    return (select(Case).where(Case.regieteam_id.in_(teams), open_case(),
                               Case.phase == Phase.IN_UITVOERING)
            .order_by(Case.termijn, Case.id).limit(CLOSE_LIMIT))


def melder_cases_query(corporation_id: str) -> Select[Case]:
    """The corporation's open meldingen, newest first."""
    return (select(Case).where(Case.corporation_id == corporation_id, open_case(),
                               Case.phase.in_(OPEN_PHASES))
            .order_by(Case.filed_at.desc()).limit(LIST_LIMIT))


async def home_sections(services: Services, member: Member) -> list[HomeSection]:
    """The sections this member sees, in order: their cases as casemanager, their
    Regieteams' new cases, cases they may close, the phase counts (coordinator, admin) and
    their corporation's open meldingen."""
    org = services.org
    sections: list[HomeSection] = []
    async with services.sessions() as session:
        if member.has_role("casemanager"):
            cases = (await session.scalars(casemanager_cases_query(member.id))).all()
            sections.append(HomeSection("casemanager", cases=_rows(cases)))
        if member.has_role("voorzitter", "lid"):
            teams = [t.id for t in org.regieteams if org.belongs_to(member, t.id)]
            cases = (await session.scalars(team_cases_query(teams))).all()
            sections.append(HomeSection("team", {
                "teams": [org.regieteam(t).name for t in teams],
                "voorzitter": member.has_role("voorzitter"),
                "overleg": [
                    {"team": org.regieteam(t).name, "dag": org.regieteam(t).meeting.weekday_name,
                     "tijd": org.regieteam(t).meeting.time.strftime("%H:%M")} for t in teams
                ],
            }, _rows(cases)))
        closing = [t.id for t in org.regieteams
                   if member.has_role("coordinator") or is_chair_of(org, member, t.id)]
        if closing:
            cases = (await session.scalars(closable_cases_query(closing))).all()
            sections.append(HomeSection("sluiten", cases=_rows(cases)))
        if member.has_role("coordinator", "admin"):
            counts = (await session.execute(
                select(Case.regieteam_id, Case.phase, func.count()).group_by(
                    Case.regieteam_id, Case.phase)
            )).all()
            table: dict[str, dict[str, int]] = {}
            for team_id, phase, count in counts:
                table.setdefault(team_id, {})[phase] = count
            sections.append(HomeSection("coordinator", {"overzicht": [
                {"team": t.name, "fasen": table.get(t.id, {})} for t in org.regieteams
            ]}))
        if member.has_role("melder"):
            cases = (await session.scalars(melder_cases_query(member.partner))).all()
            sections.append(HomeSection("melder", {
                "corporatie": org.partner(member.partner).name}, _rows(cases)))
    return sections
