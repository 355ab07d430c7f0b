"""Answering a reminder: the Ontvangen, Gedaan and Uitstellen buttons, the terugkoppeling
button and the nazorg answers. "Gedaan" on any reminder of a series ends the series;
"Ontvangen" calls off the escalation to the coordinator."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from commands import events
from commands.actions import action
from commands.context import Services, aware
from commands.organisation import Member
from commands.permissions import is_chair_of
from commands.reminders.rows import (
    cancel,
    cancel_escalations,
    case_rows,
    insert_reminders,
    is_open,
    new_reminder,
    series_of,
)
from commands.reminders.rules import (
    ACKNOWLEDGED,
    ANSWERED,
    CONFIRM_ONCE,
    DONE,
    MAX_POSTPONE_DAYS,
    POSTPONE_MARK,
    POSTPONED,
    send_moment,
)
from commands.reminders.sync import sync_case_reminders
from commands.replies import CommandRefused, Result
from commands.toelichting import refuse_household_words
from commands.validation import FieldProblem, check_free_text, parse_date, parse_record_id
from commands.words import ActionName, ReminderKind
from store.models import Case, NazorgCheck, Reminder

MAX_NAZORG_MONTHS = 120


def _may_answer(services: Services, member: Member, reminder: Reminder, case: Case | None) -> bool:
    if member.has_role("coordinator", "admin"):
        return True
    if reminder.target_member_id == member.id or reminder.target_partner_id == member.partner:
        return True
    return case is not None and is_chair_of(services.org, member, case.regieteam_id)


async def _reminder_for(
    session: AsyncSession, services: Services, member: Member, value: str | int
) -> tuple[Reminder, Case | None]:
    try:
        reminder_id = parse_record_id(value)
    except (TypeError, ValueError):
        raise CommandRefused("herinnering/niet_gevonden") from None
    case_id = await session.scalar(select(Reminder.case_id).where(Reminder.id == reminder_id))
    # lock order as in the commands and the dispatcher: the case first, then its reminders
    case = await session.get(Case, case_id, with_for_update=True) if case_id else None
    reminder = await session.get(Reminder, reminder_id, with_for_update=True)
    if reminder is None:
        raise CommandRefused("herinnering/niet_gevonden")
    if not _may_answer(services, member, reminder, case):
        raise CommandRefused("herinnering/niet_voor_jou")
    return reminder, case


# What `/uitstellen` may be given instead of a reminder's number: the case, then a kind.
_NOT_POSTPONED = (ReminderKind.ESCALATIE, ReminderKind.BEZORGING_MISLUKT)


def _waiting(row: Reminder) -> bool:
    return row.done_at is None and row.cancelled_at is None and row.kind not in _NOT_POSTPONED


async def reminder_of_case(
    services: Services, member: Member, reference: str, kind: str | None = None
) -> int:
    """The reminder `/uitstellen RT-… [soort]` means: of the case's waiting series that
    `member` may answer (of `kind` when given), the one for the member, else the one for the
    member or their partner, else the only one. Refused, with the kinds named, when it stays
    ambiguous."""
    async with services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.reference == reference.upper()))
        if case is None:
            raise CommandRefused("fout/casus_onbekend", referentie=reference.upper())
        rows = (await session.scalars(select(Reminder).where(Reminder.case_id == case.id)
                                      .order_by(Reminder.due_at, Reminder.id))).all()
    first: dict[tuple[str, str | None, str | None], Reminder] = {}
    for row in rows:
        if _waiting(row) and (kind is None or row.kind == kind) and _may_answer(
                services, member, row, case):
            first.setdefault((series_of(row), row.target_partner_id, row.target_member_id), row)
    series = list(first.values())
    mine = [r for r in series if member.id == r.target_member_id]
    ours = [r for r in series if r.target_member_id is None and member.partner == r.target_partner_id]
    chosen = next((rows for rows in (mine, mine + ours) if len(rows) == 1), series)
    if len(chosen) == 1:
        return chosen[0].id
    if not chosen:
        raise CommandRefused("herinnering/geen_open", referentie=case.reference, soort=kind)
    raise CommandRefused("herinnering/welke", referentie=case.reference, soorten=sorted(
        {str(r.kind) for r in chosen}), soort=kind)


async def _reminder_meant(services: Services, member: Member, value: int | str) -> int | str:
    """A reminder's number as it is; `RT-… [soort]` (typed) as the reminder it means."""
    words = str(value).split()
    if words and words[0].upper().startswith("RT-"):
        return await reminder_of_case(services, member, words[0], words[1] if words[1:] else None)
    return value


async def check_postpone(services: Services, member: Member, value: str) -> None:
    """Before the form asks anything, when it was typed for a case: the case has one reminder
    this member may postpone. (A button's reminder is checked when the form is sent.)"""
    if not str(value).upper().startswith("RT-"):
        return
    reminder_id = await _reminder_meant(services, member, value)
    async with services.sessions() as session:
        reminder, case = await _reminder_for(session, services, member, reminder_id)
        if reminder.done_at is not None or reminder.cancelled_at is not None:
            raise CommandRefused("herinnering/al_afgehandeld",
                                 referentie=case.reference if case else None)


@action(ActionName.HERINNERING_ONTVANGEN)
async def acknowledge(services: Services, member: Member, value: str) -> Result:
    """"Ontvangen": someone at the partner has seen it; the escalation is called off."""
    now = services.now()
    async with services.transaction() as session:
        reminder, case = await _reminder_for(session, services, member, value)
        reference = case.reference if case else None
        if reminder.acknowledged_at is not None:
            return Result(value=reminder.id).reply(
                "herinnering/al_ontvangen", referentie=reference,
                door=_name(services, reminder.acknowledged_by))
        reminder.acknowledged_at, reminder.acknowledged_by = now, member.id
        cancel_escalations(await case_rows(session, reminder), {reminder.id}, None, now,
                            ACKNOWLEDGED)
        events.record(session, case, "reminder_acknowledged", member.id, now,
                      reminder=reminder.id, soort=reminder.kind)
    return Result(value=reminder.id).reply("herinnering/ontvangen", referentie=reference)


@action(ActionName.HERINNERING_GEDAAN)
async def mark_done(services: Services, member: Member, value: str) -> Result:
    """"Gedaan": the expected step is taken; the rest of this series is cancelled."""
    now = services.now()
    async with services.transaction() as session:
        reminder, case = await _reminder_for(session, services, member, value)
        reference = case.reference if case else None
        if reminder.done_at is not None:
            return Result(value=reminder.id).reply(
                "herinnering/al_gedaan", referentie=reference, door=_name(services, reminder.done_by))
        reminder.done_at, reminder.done_by = now, member.id
        if reminder.acknowledged_at is None:
            reminder.acknowledged_at, reminder.acknowledged_by = now, member.id
        series = series_of(reminder)
        rows = await case_rows(session, reminder)
        for row in rows:
            same = series_of(row) == series or (
                reminder.kind in CONFIRM_ONCE and row.kind == reminder.kind)
            if not same or row.id == reminder.id or row.kind == ReminderKind.ESCALATIE:
                continue
            if is_open(row):
                cancel(row, now, DONE)
            elif row.sent_at is not None and row.done_at is None:  # earlier ones: done as well
                row.done_at, row.done_by = now, member.id
        cancel_escalations(rows, {reminder.id}, series, now, DONE)
        events.record(session, case, "reminder_done", member.id, now,
                      reminder=reminder.id, soort=reminder.kind)
    return Result(value=reminder.id).reply("herinnering/gedaan", referentie=reference,
                                           soort=reminder.kind)


@action(ActionName.HERINNERING_UITSTELLEN)
async def ask_postpone(services: Services, member: Member, value: str) -> Result:
    """The button: adapters open a form (date + reason) and then call `postpone_reminder`."""
    async with services.transaction() as session:
        reminder, case = await _reminder_for(session, services, member, value)
    return Result(value=reminder.id).reply(
        "herinnering/uitstellen_vraag", id=reminder.id, referentie=case.reference if case else None,
        maximum=services.today() + timedelta(days=MAX_POSTPONE_DAYS))


async def postpone_reminder(
    services: Services, member: Member, reminder_id: int | str, until: str, reason: str
) -> Result:
    """Postpone a reminder (and the rest of its series) to a date, with a reason. The reminder
    is its number, or `RT-… [soort]` (see `reminder_of_case`)."""
    today, now = services.today(), services.now()
    reminder_id = await _reminder_meant(services, member, reminder_id)
    try:
        day = parse_date(until)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld="uitstel_datum",
                             **problem.data) from None
    if day <= today or day > today + timedelta(days=MAX_POSTPONE_DAYS):
        raise CommandRefused("herinnering/uitstel_datum", maximum=today + timedelta(
            days=MAX_POSTPONE_DAYS))
    try:
        why = check_free_text(reason, today, max_length=300, min_length=3)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld="uitstel_reden",
                             **problem.data) from None
    async with services.transaction() as session:
        reminder, case = await _reminder_for(session, services, member, reminder_id)
        if reminder.done_at is not None or reminder.cancelled_at is not None:
            raise CommandRefused("herinnering/al_afgehandeld",
                                 referentie=case.reference if case else None)
        moment = send_moment(services, day)
        if case is not None:
            await refuse_household_words(session, services, case, {"uitstel_reden": why})
        reminder.postponed_to = moment
        reminder.postpone_reason = services.cipher.encrypt(why)
        series = series_of(reminder)
        rows = await case_rows(session, reminder)
        target = (reminder.target_partner_id, reminder.target_member_id)
        held = {row.id for row in rows if row.id == reminder.id or (
            series_of(row) == series and row.kind != ReminderKind.ESCALATIE
            and (row.target_partner_id, row.target_member_id) == target)}
        for row in rows:
            if row.id in held and is_open(row) and aware(row.due_at) <= moment:
                cancel(row, now, POSTPONED)
        cancel_escalations(rows, held, None, now, POSTPONED)
        base = reminder.dedupe_key.split(POSTPONE_MARK)[0]
        copy_key = f"{base}{POSTPONE_MARK}{day.isoformat()}"
        await session.flush()
        await insert_reminders(session, [new_reminder(
            copy_key, reminder.kind, reminder.case_id, moment,
            {**reminder.payload, "uitgesteld": True},
            partner_id=reminder.target_partner_id, member_id=reminder.target_member_id)])
        events.record(session, case, "reminder_postponed", member.id, now,
                      reminder=reminder.id, soort=reminder.kind, until=day.isoformat())
        if case is not None:
            await session.flush()
            await sync_case_reminders(session, services, case)
    return Result(value=reminder.id).reply(
        "herinnering/uitgesteld", referentie=case.reference if case else None, datum=day)


@action(ActionName.TERUGKOPPELING_GEVEN)
async def feedback_button(services: Services, member: Member, value: str) -> Result:
    """Adapters open the feedback form for this button; this answer is the fallback."""
    return Result(value=value).reply("herinnering/terugkoppeling_geven", referentie=value)


@action(ActionName.NAZORG_BEANTWOORDEN)
async def nazorg_button(services: Services, member: Member, value: str) -> Result:
    """Value: "<reference>:<months>:<still housed ja|nee>:<paying ja|nee>"."""
    try:
        reference, months, housed, paying = value.rsplit(":", 3)
        return await answer_nazorg(services, member, reference, parse_record_id(months),
                                   housed == "ja", paying == "ja")
    except ValueError:
        raise CommandRefused("herinnering/niet_gevonden") from None


async def answer_nazorg(
    services: Services, member: Member, reference: str, months: int, still_housed: bool,
    paying: bool,
) -> Result:
    """Record the corporation's answer to a nazorg question; its reminders stop."""
    if not 0 < months <= MAX_NAZORG_MONTHS or len(reference) > 40:
        raise CommandRefused("herinnering/niet_gevonden")
    now = services.now()
    async with services.transaction() as session:
        case = await session.scalar(
            select(Case).where(Case.reference == reference).with_for_update())
        if case is None:
            raise CommandRefused("herinnering/niet_gevonden")
        allowed = member.has_role("coordinator", "admin") or (
            member.partner == case.corporation_id and member.has_role("melder"))
        if not allowed:
            raise CommandRefused("herinnering/niet_voor_jou")
        check = await session.scalar(
            select(NazorgCheck).where(NazorgCheck.case_id == case.id, NazorgCheck.months == months)
            .with_for_update()
        )
        if check is None:
            raise CommandRefused("herinnering/niet_gevonden")
        if check.answered_at is not None:
            return Result(value=case.reference).reply(
                "herinnering/nazorg_al_beantwoord", referentie=case.reference, maanden=months,
                door=_name(services, check.answered_by))
        check.answered_at, check.answered_by = now, member.id
        check.still_housed, check.paying = still_housed, paying and still_housed
        await session.execute(
            update(Reminder).where(
                Reminder.case_id == case.id, Reminder.kind == ReminderKind.NAZORG,
                Reminder.sent_at.isnot(None), Reminder.done_at.is_(None),
                Reminder.dedupe_key.like(f"{ReminderKind.NAZORG}:{case.id}:{months}:%"),
            ).values(done_at=now, done_by=member.id)
        )
        events.record(session, case, "nazorg_answered", member.id, now, months=months,
                      still_housed=still_housed, paying=check.paying)
        await session.flush()
        await sync_case_reminders(session, services, case)
        rows = await case_rows(session, Reminder(case_id=case.id))
        cancel_escalations(rows, set(), f"{ReminderKind.NAZORG}:{case.id}:{months}", now, ANSWERED)
    return Result(value=case.reference).reply(
        "herinnering/nazorg_beantwoord", referentie=case.reference, maanden=months,
        woont=still_housed, betaalt=check.paying)


def _name(services: Services, member_id: str | None) -> str:
    found = services.org.member(member_id) if member_id else None
    return found.name if found else "iemand"
