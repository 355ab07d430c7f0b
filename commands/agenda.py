"""The weekly Regieteam meeting and its agenda.

An agenda has three parts: (a) new meldingen not yet decided, most urgent first (nearest
hearing or eviction; households with minor children first at equal urgency); (b) cases
whose terugkoppeling is due; (c) cases whose termijn has passed. Building it again for
the same meeting adds what is missing and never duplicates. Meldingen filed after the
cut-off and before the meeting starts are an addendum; later ones go to the next meeting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from commands import events
from commands.actions import action
from commands.cases import case_by_reference, case_summary, dialect_of, is_urgent
from commands.context import Services
from commands.organisation import Member, Organisation
from commands.outbox import queue_result
from commands.permissions import is_chair_of, may_vote, require_chair, sees_all, whom_to_ask
from commands.replies import Action, CommandRefused, Message, Outgoing, Result, to_regieteam
from commands.words import UNDECIDED_PHASES, ActionName, Phase
from store.models import AgendaItem, Case, Decision, Meeting, open_case

SECTION_ORDER = {"nieuw": 0, "doorgeschoven": 1, "terugkoppeling": 2, "termijn": 3}
UNDECIDED = UNDECIDED_PHASES


@dataclass(frozen=True)
class AgendaEntry:
    item: AgendaItem
    case: Case


# --- meeting moments -------------------------------------------------------------------------


def meeting_start(services: Services, regieteam_id: str, meeting_date: date) -> datetime:
    moment = services.org.regieteam(regieteam_id).meeting.time
    return datetime.combine(meeting_date, moment, tzinfo=services.timezone)


def agenda_cutoff(services: Services, regieteam_id: str, meeting_date: date) -> datetime:
    cutoff = services.org.agenda_cutoff(regieteam_id)
    day = meeting_date - timedelta(days=cutoff.days_before)
    return datetime.combine(day, cutoff.time, tzinfo=services.timezone)


def next_meeting_date(services: Services, regieteam_id: str) -> date:
    """The first meeting of this Regieteam that has not started yet."""
    weekday = services.org.regieteam(regieteam_id).meeting.weekday
    today = services.today()
    day = today + timedelta(days=(weekday - today.weekday()) % 7)
    if meeting_start(services, regieteam_id, day) <= services.now():
        day += timedelta(days=7)
    return day


def current_meeting_date(services: Services, regieteam_id: str) -> date:
    """Today's meeting when there is one today (also once it has started), else the next."""
    weekday = services.org.regieteam(regieteam_id).meeting.weekday
    today = services.today()
    return today if today.weekday() == weekday else next_meeting_date(services, regieteam_id)


def is_meeting_day(org: Organisation, regieteam_id: str, day: date) -> bool:
    return org.regieteam(regieteam_id).meeting.weekday == day.weekday()


# --- building --------------------------------------------------------------------------------


async def meeting_for(session: AsyncSession, services: Services, regieteam_id: str,
                      meeting_date: date) -> Meeting:
    """The meeting row for this date, created once even when two processes ask at once."""
    if not is_meeting_day(services.org, regieteam_id, meeting_date):
        raise CommandRefused("fout/geen_overlegdag", team=services.org.regieteam(regieteam_id).name,
                             dag=services.org.regieteam(regieteam_id).meeting.weekday_name)
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    await session.execute(insert(Meeting).values(
        regieteam_id=regieteam_id, meeting_date=meeting_date,
        starts_at=meeting_start(services, regieteam_id, meeting_date).astimezone(UTC),
        cutoff_at=agenda_cutoff(services, regieteam_id, meeting_date).astimezone(UTC),
    ).on_conflict_do_nothing())
    meeting = await session.scalar(select(Meeting).where(
        Meeting.regieteam_id == regieteam_id, Meeting.meeting_date == meeting_date))
    assert meeting is not None
    return meeting


def candidates_query(services: Services, meeting: Meeting) -> Select[Case]:
    """The open cases of the meeting's Regieteam that may belong on its agenda: undecided ones
    filed before the meeting starts, and cases in uitvoering with terugkoppeling or termijn due.
    Read through the partial index on the open phases (`open_case()`)."""
    start = services.local(meeting.starts_at)
    return select(Case).where(
        Case.regieteam_id == meeting.regieteam_id,
        open_case(),
        or_(
            and_(Case.phase.in_(UNDECIDED), Case.filed_at < start),
            and_(Case.phase == Phase.IN_UITVOERING, or_(
                Case.next_terugkoppeling <= meeting.meeting_date,
                Case.termijn < meeting.meeting_date,
            )),
        ),
    )


async def _candidates(
    session: AsyncSession, services: Services, meeting: Meeting
) -> list[tuple[Case, str, bool]]:
    """Cases that belong on this meeting's agenda, with their section and addendum flag.
    Only open cases of this Regieteam are read (indexed on regieteam and phase)."""
    cutoff = services.local(meeting.cutoff_at)
    rows = (await session.scalars(candidates_query(services, meeting))).all()
    discussed = await _discussed_before(session, meeting, [c.id for c in rows if c.phase in UNDECIDED])
    result = []
    for case in rows:
        if case.phase in UNDECIDED:
            section = "doorgeschoven" if case.id in discussed else "nieuw"
            result.append((case, section, services.local(case.filed_at) > cutoff))
        elif case.termijn is not None and case.termijn < meeting.meeting_date:
            result.append((case, "termijn", False))
        else:
            result.append((case, "terugkoppeling", False))
    return result


async def _discussed_before(session: AsyncSession, meeting: Meeting, case_ids: list[int]) -> set[int]:
    if not case_ids:
        return set()
    rows = await session.scalars(select(AgendaItem.case_id).join(Meeting).where(
        AgendaItem.case_id.in_(case_ids), Meeting.meeting_date < meeting.meeting_date,
        Meeting.regieteam_id == meeting.regieteam_id,
    ))
    return set(rows.all())


async def _last_position(session: AsyncSession, meeting: Meeting) -> int:
    position = await session.scalar(
        select(AgendaItem.position).where(AgendaItem.meeting_id == meeting.id)
        .order_by(AgendaItem.position.desc()).limit(1)
    )
    return position or 0


async def _add_item(session: AsyncSession, services: Services, meeting: Meeting, case: Case,
                    section: str, addendum: bool, actor_id: str | None,
                    position: int | None = None) -> AgendaItem:
    single = position is None
    if position is None:
        position = await _last_position(session, meeting) + 1
    item = AgendaItem(meeting_id=meeting.id, case_id=case.id, section=section, position=position,
                      addendum=addendum, added_at=services.now(), added_by=actor_id)
    session.add(item)
    if case.phase == Phase.NIEUW:
        case.phase = Phase.OP_AGENDA
    if single:
        await session.flush()
    events.record(session, case, "agenda_added", actor_id, services.now(),
                  meeting=meeting.meeting_date.isoformat(), section=section, addendum=addendum)
    return item


async def _build(session: AsyncSession, services: Services, regieteam_id: str,
                 meeting_date: date) -> Meeting:
    meeting = await meeting_for(session, services, regieteam_id, meeting_date)
    present = set((await session.scalars(
        select(AgendaItem.case_id).where(AgendaItem.meeting_id == meeting.id))).all())
    wanted = [c for c in await _candidates(session, services, meeting) if c[0].id not in present]
    last = await _last_position(session, meeting)
    for position, (case, section, addendum) in enumerate(
            sorted(wanted, key=lambda c: urgency_key(c[0])), start=last + 1):
        await _add_item(session, services, meeting, case, section,
                        addendum or meeting.agenda_posted_at is not None, None, position)
    await session.flush()
    return meeting


async def build(services: Services, regieteam_id: str, meeting_date: date) -> Meeting:
    """Make (or complete) the agenda of one meeting. Safe to call again: no duplicates."""
    async with services.transaction() as session:
        return await _build(session, services, regieteam_id, meeting_date)


def urgency_key(case: Case) -> tuple[Any, ...]:
    """Nearest hearing or eviction first; at equal urgency, households with minor children."""
    return (case.urgency_date is None, case.urgency_date or date.max,
            case.minor_children == 0, case.filed_at)


async def agenda_entries(session: AsyncSession, meeting: Meeting) -> list[AgendaEntry]:
    rows = (await session.execute(
        select(AgendaItem, Case).join(Case, Case.id == AgendaItem.case_id)
        .where(AgendaItem.meeting_id == meeting.id)
    )).all()
    entries = [AgendaEntry(item, case) for item, case in rows]
    return sorted(entries, key=lambda e: (e.item.addendum, SECTION_ORDER[e.item.section],
                                          *urgency_key(e.case)))


# --- showing and posting ---------------------------------------------------------------------


def team_of(services: Services, member: Member, regieteam_id: str | None) -> str:
    """The Regieteam a command is about: given, or the member's own (the only one, or the first)."""
    org = services.org
    if regieteam_id:
        if regieteam_id not in {t.id for t in org.regieteams}:
            raise CommandRefused("fout/regieteam_onbekend", teams=[t.id for t in org.regieteams])
        return regieteam_id
    if len(org.regieteams) == 1:
        return org.regieteams[0].id
    if member.regieteams:
        return member.regieteams[0]
    raise CommandRefused("fout/kies_regieteam", teams=[t.id for t in org.regieteams])


def _require_team_view(services: Services, member: Member, regieteam_id: str) -> None:
    if not (sees_all(member) or may_vote(services.org, member, regieteam_id)):
        raise CommandRefused("fout/geen_rol", rollen=["lid", "voorzitter", "coordinator"],
                             team=services.org.regieteam(regieteam_id).name,
                             vraag=whom_to_ask(services.org))


async def show_agenda(services: Services, member: Member, regieteam_id: str | None = None) -> Result:
    """/agenda: the next meeting's agenda, for the Regieteam's members and the coordinator."""
    team = team_of(services, member, regieteam_id)
    _require_team_view(services, member, team)
    async with services.transaction() as session:
        meeting = await _build(session, services, team, next_meeting_date(services, team))
        message = await agenda_message(session, services, meeting)
    actions: tuple[Action, ...] = ()
    if is_chair_of(services.org, member, team):
        actions = (Action(ActionName.AGENDA_PLAATSEN, team, "actie.agenda_plaatsen", "primary"),)
    return Result(replies=[Message(message.template, message.data, actions)], value=meeting.id)


async def agenda_message(session: AsyncSession, services: Services, meeting: Meeting) -> Message:
    entries = await agenda_entries(session, meeting)
    return Message("agenda/agenda", {
        "team": services.org.regieteam(meeting.regieteam_id).name,
        "datum": meeting.meeting_date,
        "tijd": meeting.starts_at,
        "geplaatst": meeting.agenda_posted_at is not None,
        "punten": [_entry_data(services, e) for e in entries],
    })


def _entry_data(services: Services, entry: AgendaEntry) -> dict[str, Any]:
    return {**case_summary(services, entry.case), "onderdeel": entry.item.section,
            "aanvulling": entry.item.addendum, "termijn": entry.case.termijn,
            "terugkoppeling": entry.case.next_terugkoppeling}


def case_thread_message(services: Services, entry: AgendaEntry) -> Message:
    """The message that opens a case's thread: the summary and the voting buttons."""
    ref = entry.case.reference
    actions = [Action(ActionName.STEM, f"{ref}|q1|{c}", f"actie.q1_{c}") for c in ("ja", "nee", "twijfel")]
    actions += [Action(ActionName.STAPPEN_KIEZEN, ref, "actie.q2_kiezen")]
    actions += [Action(ActionName.STEM, f"{ref}|q3|{c}", f"actie.q3_{c}") for c in ("ja", "nee")]
    actions += [Action(ActionName.BESLUIT_VASTLEGGEN, ref, "actie.besluit_vastleggen", "primary"),
                Action(ActionName.TOON_GEGEVENS, ref, "actie.toon_gegevens"),
                Action(ActionName.TOON_TOELICHTING, ref, "actie.toon_toelichting")]
    return Message("agenda/casus", _entry_data(services, entry), tuple(actions))


async def post_agenda(services: Services, member: Member, regieteam_id: str | None = None) -> Result:
    """The chair posts the agenda to the Regieteam channel, one thread per case. Posting again
    updates the agenda in place and opens threads only for cases that did not have one."""
    team = team_of(services, member, regieteam_id)
    require_chair(services.org, member, team)
    async with services.transaction() as session:
        meeting = await _build(session, services, team, next_meeting_date(services, team))
        return await _agenda_outgoing(session, services, meeting, member.id)


async def _agenda_outgoing(session: AsyncSession, services: Services, meeting: Meeting,
                           actor_id: str | None) -> Result:
    meeting.agenda_posted_at = meeting.agenda_posted_at or services.now()
    meeting.agenda_posted_by = meeting.agenda_posted_by or actor_id
    channel = to_regieteam(meeting.regieteam_id)
    result = Result(value=meeting.id)
    result.send(channel, await agenda_message(session, services, meeting),
                update_key=f"agenda:{meeting.id}")
    for entry in await agenda_entries(session, meeting):
        result.send(channel, case_thread_message(services, entry),
                    update_key=f"case_thread:{entry.case.id}")
    await queue_result(session, services, result)
    return result.confirm("agenda/geplaatst", "agenda/wordt_geplaatst",
                          team=services.org.regieteam(meeting.regieteam_id).name,
                          datum=meeting.meeting_date)


@action(ActionName.AGENDA_PLAATSEN)
async def post_agenda_button(services: Services, member: Member, value: str) -> Result:
    """Button value: the Regieteam id (or empty for the member's own)."""
    return await post_agenda(services, member, value or None)


async def scheduled_agenda(services: Services, regieteam_id: str) -> list[Outgoing]:
    """For the scheduler: build and post the next meeting's agenda (at the cut-off)."""
    async with services.transaction() as session:
        day = next_meeting_date(services, regieteam_id)
        meeting = await _build(session, services, regieteam_id, day)
        result = await _agenda_outgoing(session, services, meeting, None)
    return result.outgoing


async def add_to_posted_agenda(session: AsyncSession, services: Services, case: Case) -> list[Outgoing]:
    """A melding filed after the agenda was posted and before the meeting starts joins it as
    an addendum; the Regieteam is told so. Otherwise it waits for the next meeting."""
    meeting = await session.scalar(select(Meeting).where(
        Meeting.regieteam_id == case.regieteam_id,
        Meeting.meeting_date == next_meeting_date(services, case.regieteam_id)))
    if meeting is None or meeting.agenda_posted_at is None:
        return []
    item = await _add_item(session, services, meeting, case, "nieuw", True, case.filed_by)
    return _addendum_outgoing(services, meeting, AgendaEntry(item, case))


def _addendum_outgoing(services: Services, meeting: Meeting, entry: AgendaEntry) -> list[Outgoing]:
    channel = to_regieteam(meeting.regieteam_id)
    notice = Message("agenda/aanvulling", {**case_summary(services, entry.case),
                                           "datum": meeting.meeting_date})
    return [Outgoing(channel, notice),
            Outgoing(channel, case_thread_message(services, entry),
                     update_key=f"case_thread:{entry.case.id}")]


async def add_urgent(services: Services, member: Member, reference: str) -> Result:
    """The chair adds an urgent case (hearing or eviction within 14 days) to today's or the
    next meeting, also after the cut-off or once the meeting has started."""
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
        require_chair(services.org, member, case.regieteam_id)
        if case.phase not in UNDECIDED:
            raise CommandRefused("fout/al_besloten", referentie=case.reference)
        if not is_urgent(services, case):
            raise CommandRefused("fout/niet_urgent", referentie=case.reference,
                                 dagen=services.org.rules.urgent_within_days)
        meeting = await meeting_for(session, services, case.regieteam_id,
                                    current_meeting_date(services, case.regieteam_id))
        existing = await session.scalar(select(AgendaItem).where(
            AgendaItem.meeting_id == meeting.id, AgendaItem.case_id == case.id))
        if existing is not None:
            return Result().reply("agenda/al_op_agenda", referentie=case.reference,
                                  datum=meeting.meeting_date)
        item = await _add_item(session, services, meeting, case, "nieuw", True, member.id)
        result = await queue_result(session, services, Result(
            outgoing=_addendum_outgoing(services, meeting, AgendaEntry(item, case))))
    return result.reply("agenda/spoed_toegevoegd", referentie=case.reference,
                        datum=meeting.meeting_date)


async def add_to_next_meeting(session: AsyncSession, services: Services, case: Case,
                              section: str, actor_id: str | None) -> None:
    """Put an ongoing case on the next meeting (e.g. when the termijn no longer holds)."""
    meeting = await meeting_for(session, services, case.regieteam_id,
                                next_meeting_date(services, case.regieteam_id))
    exists = await session.scalar(select(AgendaItem.id).where(
        AgendaItem.meeting_id == meeting.id, AgendaItem.case_id == case.id))
    if exists is None:
        await _add_item(session, services, meeting, case, section,
                        meeting.agenda_posted_at is not None, actor_id)


def decision_in_force(item_id: Any) -> Any:
    """Whether the agenda item has a decision that still stands, as a column of a query."""
    return (select(Decision.id)
            .where(Decision.agenda_item_id == item_id, Decision.superseded_at.is_(None))
            .exists())


async def has_decision(session: AsyncSession, item: AgendaItem) -> bool:
    return bool(await session.scalar(select(decision_in_force(item.id))))
