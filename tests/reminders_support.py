"""Building blocks for the reminder and scheduler tests (no tests in this module).

A fake courier that renders and records every message, and helpers that put a case in a
given state by writing model rows directly (as the meeting commands would).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as Time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from bot.delivery import Deliveries, DeliveryFailed
from commands.context import Services
from commands.reminders import sync_case_reminders
from commands.replies import Outgoing
from messages.render import renderer
from store.models import AgendaItem, Assignment, Case, Decision, Meeting, Reminder
from tests.helpers import file

AMS = ZoneInfo("Europe/Amsterdam")
SECRETS = ("Jan Fictief", "Verzonnenstraat", "6511 AB")


def ams(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMS)


@dataclass
class Sent:
    kind: str
    to: str
    template: str
    text: str
    actions: list[tuple[str, str]]
    item: Outgoing


@dataclass
class FakeCourier:
    """Reaches everyone; renders each message (so template errors surface) and records it.

    `failures` makes the next N deliveries fail; `down` fails every delivery while True;
    `unreachable` lists destination ids that always fail."""

    platform: str = "fake"
    sent: list[Sent] = field(default_factory=list)
    failures: int = 0
    down: bool = False
    unreachable: set[str] = field(default_factory=set)
    attempts: int = 0

    def can_reach(self, item: Outgoing) -> bool:
        return True

    async def deliver(self, item: Outgoing) -> None:
        self.attempts += 1
        text_ = renderer("plain").render(item.message)
        if self.down or item.to.id in self.unreachable:
            raise DeliveryFailed("platform antwoordt 503")
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryFailed("rate limited")
        for secret in SECRETS:
            assert secret not in text_, f"persoonsgegeven in herinnering: {text_}"
        actions = [(a.name, a.value) for a in item.message.actions]
        self.sent.append(Sent(item.to.kind, item.to.id, item.message.template, text_, actions,
                              item))

    def to(self, dest_id: str) -> list[Sent]:
        return [s for s in self.sent if s.to == dest_id]

    def take(self) -> list[tuple[str, str]]:
        """(destination id, template) of everything sent since the last take, sorted."""
        out = sorted((s.to, s.template) for s in self.sent)
        self.sent.clear()
        return out


def deliveries_with(courier: FakeCourier) -> Deliveries:
    return Deliveries([courier])


async def new_case(services: Services, **changes: Any) -> Case:
    result = await file(services, **changes)
    async with services.transaction() as session:
        case = await session.scalar(select(Case).where(Case.reference == result.value))
        assert case is not None
        await sync_case_reminders(session, services, case)
    return case


async def update_case(services: Services, case_id: int, **values: Any) -> Case:
    """Change case columns and sync its reminders, as the lead's commands do (case locked)."""
    async with services.transaction() as session:
        case = await session.get(Case, case_id, with_for_update=True)
        assert case is not None
        for name, value in values.items():
            setattr(case, name, value)
        await session.flush()
        await sync_case_reminders(session, services, case)
    return case


async def decide(services: Services, case_id: int, q1: str = "ja", q3: str = "nee") -> int:
    """Record a current decision (with its meeting and agenda item); returns the decision id."""
    now = services.now()
    async with services.transaction() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        meeting = await session.scalar(select(Meeting).where(
            Meeting.regieteam_id == case.regieteam_id, Meeting.meeting_date == services.today()))
        if meeting is None:
            meeting = Meeting(regieteam_id=case.regieteam_id, meeting_date=services.today(),
                              starts_at=now, cutoff_at=now)
            session.add(meeting)
            await session.flush()
        item = await session.scalar(select(AgendaItem).where(
            AgendaItem.meeting_id == meeting.id, AgendaItem.case_id == case.id))
        if item is None:
            item = AgendaItem(meeting_id=meeting.id, case_id=case.id, section="nieuw",
                              position=1, added_at=now)
            session.add(item)
            await session.flush()
        for old in (await session.scalars(select(Decision).where(
                Decision.case_id == case.id, Decision.superseded_at.is_(None)))).all():
            old.superseded_at, old.superseded_by, old.reopen_reason = now, "carla", b"heropend"
        await session.flush()
        decision = Decision(case_id=case.id, agenda_item_id=item.id, q1=q1, q2_steps=[], q3=q3,
                            tally={}, voters=[], recorded_by="carla", recorded_at=now)
        session.add(decision)
        case.phase, case.decided_at = "besloten", now
        await session.flush()
        await sync_case_reminders(session, services, case)
        return decision.id


async def appoint(
    services: Services, case_id: int, *, casemanager: str = "dirk", termijn: date,
    weeks: int = 4, scenario: int = 1, next_terugkoppeling: date | None = None,
) -> Case:
    """What the chair's appointment does: scenario, casemanager, termijn, rhythm, phase."""
    now = services.now()
    async with services.transaction() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        session.add(Assignment(case_id=case.id, member_id=casemanager, scenario=scenario,
                               termijn=termijn, terugkoppeling_weeks=weeks, appointed_by="carla",
                               appointed_at=now))
        case.scenario, case.casemanager_id, case.termijn = scenario, casemanager, termijn
        case.terugkoppeling_weeks = weeks
        case.next_terugkoppeling = next_terugkoppeling or date.fromordinal(
            services.today().toordinal() + 7 * weeks)
        case.phase = "in_uitvoering"
        if case.decided_at is None:
            case.decided_at = now
        await session.flush()
        await sync_case_reminders(session, services, case)
    return case


async def close_case(services: Services, case_id: int, outcome: str = "blijft_wonen") -> Case:
    return await update_case(services, case_id, phase="gesloten", closed_at=services.now(),
                             outcome=outcome)


async def reminders_of(services: Services, case_id: int | None = None) -> list[Reminder]:
    async with services.transaction() as session:
        query = select(Reminder).order_by(Reminder.due_at, Reminder.id)
        if case_id is not None:
            query = query.where(Reminder.case_id == case_id)
        return list((await session.scalars(query)).all())


async def add_due_reminders(services: Services, count: int, due: datetime,
                            case_id: int | None = None, prefix: str = "bulk",
                            member: str = "joost") -> None:
    """Plain due reminders (no series) for load and concurrency tests."""
    async with services.transaction() as session:
        session.add_all(
            Reminder(dedupe_key=f"{prefix}:{i}", kind="bezorging_mislukt", case_id=case_id,
                     target_member_id=member, due_at=due.astimezone(UTC),
                     payload={"soort": "termijn", "pogingen": 1, "bestemming": "test"})
            for i in range(count)
        )


async def drop_jobs_table(services: Services) -> None:
    async with services.transaction() as session:
        await session.execute(text("DROP TABLE IF EXISTS apscheduler_jobs"))


SEND_TIME = Time(9, 0)
