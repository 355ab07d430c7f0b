"""`regiebot demo`: clearly fictitious cases at every stage, made through the real commands.

The clock is moved through the past weeks so that meetings, votes and decisions happen in
order: closed cases, plans in scenario 1 and 2 (one overdue), a case voted on but not yet
decided, and new meldingen for the next agenda.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from commands import agenda, audit, besluit, casemanager, sluiten, stemmen
from commands.context import Services
from commands.melding import file_melding
from commands.organisation import Member
from store.models import Case

VOORTRAJECT = "Betalingsregeling aangeboden, huisbezoek afgelegd en het Buurtteam ingeschakeld."
ONVOLDOENDE = "De afspraken zijn niet nagekomen en de achterstand loopt verder op."


class DemoRefused(RuntimeError):
    """The database already holds cases; the demo only fills an empty one."""


def _answers(number: int, children: int, zitting: str = "", **extra: Any) -> dict[str, Any]:
    categories = ["gezin_met_minderjarige_kinderen"] if children else ["multiprobleem"]
    return {
        "wijk": "Oost", "reden": "huurachterstand", "huishouden": categories,
        "minderjarige_kinderen": str(children), "achterstand_bedrag": f"{850 * (number % 4 + 1)},00",
        "achterstand_maanden": str(number % 4 + 2), "zitting": zitting, "voortraject": VOORTRAJECT,
        "onvoldoende": ONVOLDOENDE, "huurder_geinformeerd": "ja",
        "contactpersoon": "Medewerker Incasso (demo)", "huurder_naam": f"Demo Huishouden {number}",
        "adres": f"Voorbeeldstraat {number}", "postcode": "6511 ZZ", **extra,
    }


class DemoTimeline:
    """Runs commands at chosen moments in the past."""

    def __init__(self, services: Services) -> None:
        self.real = services
        self.moment = services.now()

    def at(self, days_ago: float, hour: int = 9) -> Services:
        local = (self.real.now() - timedelta(days=days_ago)).astimezone(self.real.timezone)
        self.moment = local.replace(hour=hour, minute=0, second=0, microsecond=0).astimezone(UTC)
        moment = self.moment
        return replace(self.real, clock=lambda: moment)


def _m(services: Services, member_id: str) -> Member:
    found = services.org.member(member_id)
    if found is None:
        raise DemoRefused(f"het voorbeeld gebruikt lid '{member_id}' uit deploy/regieteam.example.yaml")
    return found


async def _meeting_day(services: Services, team: str, days_ago: int) -> float:
    """Days ago of the meeting that follows `days_ago`."""
    probe = DemoTimeline(services).at(days_ago)
    day = agenda.next_meeting_date(probe, team)
    start = datetime.combine(day, services.org.regieteam(team).meeting.time, tzinfo=services.timezone)
    return (services.now() - start).total_seconds() / 86400 - 0.01


async def _decide(services: Services, timeline: DemoTimeline, ref: str, filed_days_ago: int,
                  q1: str, voters: list[str]) -> float:
    meeting_ago = await _meeting_day(services, "oost", filed_days_ago)
    chair = _m(services, "carla")
    await agenda.post_agenda(timeline.at(meeting_ago + 1, 13), chair, "oost")
    for voter in voters:
        during = timeline.at(meeting_ago, 10)
        await stemmen.cast_vote(during, _m(services, voter), ref, "q1", q1)
        await stemmen.cast_vote(during, _m(services, voter), ref, "q3", "nee")
        await stemmen.cast_vote(during, _m(services, voter), ref, "q2", steps=["schuldhulpverlening"])
    await besluit.record_decision(timeline.at(meeting_ago, 11), chair, ref)
    return meeting_ago


async def fill_demo(services: Services) -> list[str]:
    """Fill an empty database with demo cases; returns their references."""
    async with services.transaction() as session:
        if await session.scalar(select(func.count()).select_from(Case)):
            raise DemoRefused("de database bevat al casussen")
    timeline = DemoTimeline(services)
    anna, chair = _m(services, "anna"), _m(services, "carla")
    voters = ["carla", "dirk", "eva"]
    refs: list[str] = []

    async def filed(days_ago: int, number: int, children: int, **extra: Any) -> str:
        when = timeline.at(days_ago)
        zitting = (when.today() + timedelta(days=40)).strftime("%d-%m-%Y")
        result = await file_melding(when, anna, _answers(number, children, zitting, **extra))
        refs.append(result.value)
        return str(result.value)

    closed = await filed(150, 1, 2)
    met = await _decide(services, timeline, closed, 150, "ja", voters)
    await casemanager.appoint(timeline.at(met, 12), chair, closed, "dirk",
                              (timeline.at(met).today() + timedelta(days=60)).strftime("%d-%m-%Y"))
    await sluiten.close_case(timeline.at(met - 70), chair, closed, "blijft_betalingsregeling",
                             "Betalingsregeling wordt nagekomen.")
    scenario1 = await filed(60, 2, 1)
    met = await _decide(services, timeline, scenario1, 60, "ja", voters)
    await casemanager.appoint(timeline.at(met, 12), chair, scenario1, "eva",
                              (timeline.at(met).today() + timedelta(days=30)).strftime("%d-%m-%Y"))
    scenario2 = await filed(30, 3, 2)
    met = await _decide(services, timeline, scenario2, 30, "nee", voters)
    await casemanager.appoint(timeline.at(met, 12), chair, scenario2, "dirk",
                              (timeline.at(met).today() + timedelta(days=45)).strftime("%d-%m-%Y"))
    voted = await filed(9, 4, 0)
    meeting_ago = await _meeting_day(services, "oost", 9)
    await agenda.post_agenda(timeline.at(meeting_ago + 1, 13), chair, "oost")
    await stemmen.cast_vote(timeline.at(meeting_ago, 10), chair, voted, "q1", "twijfel")
    await filed(2, 5, 3)
    await filed(1, 6, 0, wijk="West")
    async with services.transaction() as session:  # lets /als and --as work on this database
        audit.mark_demo_database(session, refs, services.now())
    return refs
