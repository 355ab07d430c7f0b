"""Before the meeting: a private note to each member of the Regieteam who has not yet voted on
a case of the posted agenda, listing those cases. Members who voted hear nothing. It goes out
once per meeting (the scheduler calls `remind_non_voters` shortly before the meeting starts)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands import events
from commands.agenda import AgendaEntry, agenda_entries, meeting_start, next_meeting_date
from commands.context import Services
from commands.organisation import Member
from commands.outbox import queue
from commands.replies import Message, Outgoing, to_member
from commands.words import Phase
from store.models import Decision, Event, Meeting, Vote

SENT = "stemoproep_verstuurd"


def vote_reminder_moment(services: Services, regieteam_id: str) -> datetime | None:
    """When the coming meeting's reminder is due; None when the organisation turned it off."""
    hours = services.org.rules.reminders.vote_reminder_hours_before
    if not hours:
        return None
    start = meeting_start(services, regieteam_id, next_meeting_date(services, regieteam_id))
    return start - timedelta(hours=hours)


async def remind_non_voters(services: Services, regieteam_id: str) -> list[Outgoing]:
    """The private reminders for the coming meeting, once; nothing when its agenda was not
    posted or everybody voted."""
    day = next_meeting_date(services, regieteam_id)
    async with services.transaction() as session:
        meeting = await session.scalar(select(Meeting).where(
            Meeting.regieteam_id == regieteam_id, Meeting.meeting_date == day,
            Meeting.agenda_posted_at.is_not(None)).with_for_update())
        if meeting is None or await _already_sent(session, meeting):
            return []
        waiting = await _cases_waiting_for_votes(session, meeting)
        voted = await _voters(session, [entry.item.id for entry in waiting])
        outgoing = [_reminder(services, regieteam_id, meeting, member, missing)
                    for member in _voting_members(services, regieteam_id)
                    if (missing := [e.case.reference for e in waiting
                                    if (e.item.id, member.id) not in voted])]
        events.record(session, None, SENT, None, services.now(), meeting=meeting.id,
                      regieteam=regieteam_id, aantal=len(outgoing))
        return await queue(session, services, outgoing)


async def _already_sent(session: AsyncSession, meeting: Meeting) -> bool:
    since = meeting.agenda_posted_at
    rows = (await session.scalars(select(Event).where(Event.kind == SENT, Event.at >= since))).all()
    return any((row.data or {}).get("meeting") == meeting.id for row in rows)


async def _cases_waiting_for_votes(session: AsyncSession, meeting: Meeting) -> list[AgendaEntry]:
    entries = await agenda_entries(session, meeting)
    decided = set((await session.scalars(select(Decision.agenda_item_id).where(
        Decision.agenda_item_id.in_([entry.item.id for entry in entries]),
        Decision.superseded_at.is_(None)))).all())
    return [entry for entry in entries
            if entry.item.id not in decided and entry.item.vote_closed_at is None
            and entry.case.phase != Phase.GESLOTEN]


async def _voters(session: AsyncSession, item_ids: list[int]) -> set[tuple[int, str]]:
    if not item_ids:
        return set()
    rows = await session.execute(select(Vote.agenda_item_id, Vote.member_id).where(
        Vote.agenda_item_id.in_(item_ids)))
    return {(item_id, member_id) for item_id, member_id in rows.all()}


def _voting_members(services: Services, regieteam_id: str) -> list[Member]:
    """The members of this Regieteam with a vote (lid or voorzitter)."""
    return [m for m in services.org.members
            if m.has_role("lid", "voorzitter") and services.org.belongs_to(m, regieteam_id)]


def _reminder(services: Services, regieteam_id: str, meeting: Meeting, member: Member,
              references: list[str]) -> Outgoing:
    return Outgoing(to_member(member.id), Message("stemmen/oproep", {
        "team": services.org.regieteam(regieteam_id).name, "datum": meeting.meeting_date,
        "begin": services.local(meeting.starts_at), "casussen": references}))
