"""Building blocks for the status and rapport tests: rows inserted directly, so these tests do
not depend on the meeting and decision commands. (No tests in this module.)"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.context import Services
from store.models import (
    AgendaItem,
    Case,
    CaseCategory,
    CasePersonalData,
    Decision,
    Meeting,
    NazorgCheck,
    Reminder,
)

FILERS = {"talis": "anna", "portaal": "bram", "woonwaarts": "wendy"}
TENANT = {"naam": "Jan Fictief", "adres": "Verzonnenstraat 12", "postcode": "6511 AB"}


def utc(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class Rows:
    """Inserts cases and what hangs off them, with readable defaults."""

    def __init__(self, services: Services, session: AsyncSession) -> None:
        self.services = services
        self.session = session
        self.seq = 0
        self.meetings: dict[tuple[str, date], Meeting] = {}
        self.typed = services.cipher.encrypt("Gebeld, gemaild en langs geweest.")  # any free text

    async def case(
        self, *, team: str = "oost", corporation: str = "talis", filed_at: datetime,
        phase: str = "nieuw", reason: str = "huurachterstand",
        categories: Iterable[str] = ("multiprobleem",), minor_children: int = 0,
        scenario: int | None = None, casemanager: str | None = None, termijn: date | None = None,
        next_terugkoppeling: date | None = None, zitting: date | None = None,
        ontruiming: date | None = None, closed_at: datetime | None = None,
        outcome: str | None = None, personal: bool = True,
    ) -> Case:
        if self.seq == 0:  # continue after rows an earlier builder inserted
            self.seq = int(await self.session.scalar(select(func.max(Case.seq))) or 0)
        self.seq += 1
        known = [d for d in (zitting, ontruiming) if d]
        case = Case(
            reference=f"RT-{filed_at.year}-{self.seq:04d}", year=filed_at.year,
            seq=self.seq, regieteam_id=team, corporation_id=corporation,
            filed_by=FILERS[corporation], filed_at=filed_at, phase=phase, reason=reason,
            minor_children=minor_children,
            arrears_cents=123_456, arrears_months=3, zitting_date=zitting,
            ontruiming_date=ontruiming, urgency_date=min(known) if known else None,
            voortraject=self.typed, insufficient_because=self.typed,
            tenant_informed=True, wijk="Oost", contact_person=self.typed,
            scenario=scenario, casemanager_id=casemanager, termijn=termijn,
            next_terugkoppeling=next_terugkoppeling, closed_at=closed_at, outcome=outcome,
            categories=[CaseCategory(category=c) for c in categories],
        )
        self.session.add(case)
        await self.session.flush()
        if personal:
            cipher = self.services.cipher
            self.session.add(CasePersonalData(
                case_id=case.id, tenant_name=cipher.encrypt(TENANT["naam"]),
                address=cipher.encrypt(TENANT["adres"]),
                postcode=cipher.encrypt(TENANT["postcode"])))
        return case

    async def agenda_item(self, case: Case, day: date) -> AgendaItem:
        key = (case.regieteam_id, day)
        if key not in self.meetings:
            moment = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
            meeting = Meeting(regieteam_id=case.regieteam_id, meeting_date=day, starts_at=moment,
                              cutoff_at=moment)
            self.session.add(meeting)
            await self.session.flush()
            self.meetings[key] = meeting
        item = AgendaItem(meeting_id=self.meetings[key].id, case_id=case.id, section="nieuw",
                          position=1, added_at=case.filed_at)
        self.session.add(item)
        await self.session.flush()
        return item

    async def decision(
        self, case: Case, recorded_at: datetime, superseded_at: datetime | None = None,
        q1: str = "ja",
    ) -> Decision:
        item = await self.agenda_item(case, recorded_at.date())
        decision = Decision(
            case_id=case.id, agenda_item_id=item.id, q1=q1, q2_steps=["betalingsregeling"],
            q3="nee", tally={}, voters=["carla"], recorded_by="carla", recorded_at=recorded_at,
            superseded_at=superseded_at, superseded_by="carla" if superseded_at else None,
            reopen_reason=self.typed if superseded_at else None,
        )
        self.session.add(decision)
        if superseded_at is None:
            case.decided_at = recorded_at
        await self.session.flush()
        return decision

    async def reminder(
        self, case: Case, kind: str, due_at: datetime, *, sent_at: datetime | None = None,
        done_at: datetime | None = None, cancelled_at: datetime | None = None,
    ) -> Reminder:
        reminder = Reminder(
            dedupe_key=f"{kind}:{case.id}:{due_at.isoformat()}", kind=kind, case_id=case.id,
            target_partner_id="mbz", due_at=due_at, payload={}, sent_at=sent_at,
            done_at=done_at, cancelled_at=cancelled_at,
        )
        self.session.add(reminder)
        await self.session.flush()
        return reminder

    async def nazorg(
        self, case: Case, months: int, due: date, *, answered_at: datetime | None = None,
        housed: bool | None = None, paying: bool | None = None,
    ) -> NazorgCheck:
        check = NazorgCheck(case_id=case.id, months=months, due_date=due, answered_at=answered_at,
                            answered_by="dirk" if answered_at else None, still_housed=housed,
                            paying=paying)
        self.session.add(check)
        await self.session.flush()
        return check


def no_personal_data(text: str | bytes) -> bool:
    """True when none of the tenant's details appear in the text."""
    if isinstance(text, bytes):  # binary (a PNG): look for the whole values only
        return not any(value.encode() in text for value in TENANT.values())
    return not any(value in text for value in (*TENANT.values(), "Verzonnenstraat", "6511"))


def members(services: Services, *ids: str) -> list[Any]:
    found = [services.org.member(i) for i in ids]
    assert all(found), ids
    return found
