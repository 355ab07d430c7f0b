"""The reminder list of `regiebot reminders list [--due]`: one neutral line per reminder,
without personal data (reference, kind, target, when, status)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select

from commands.context import Services, aware
from commands.replies import Message
from store.models import Case, Reminder


async def reminder_list(services: Services, due_only: bool, limit: int = 1000) -> list[Message]:
    """One message per reminder (`herinnering/lijstregel`), oldest due first; at most `limit`,
    then a line saying how many more there are."""
    now = services.now()
    query = select(Reminder, Case.reference).outerjoin(Case, Case.id == Reminder.case_id)
    if due_only:
        query = query.where(
            Reminder.sent_at.is_(None), Reminder.cancelled_at.is_(None),
            Reminder.failed_at.is_(None), Reminder.due_at <= now,
            or_(Reminder.next_attempt_at.is_(None), Reminder.next_attempt_at <= now),
        )
    async with services.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = (await session.execute(
            query.order_by(Reminder.due_at, Reminder.id).limit(limit))).all()
    if not rows:
        return [Message("herinnering/lijst_leeg", {"due": due_only})]
    org = services.org
    lines = []
    for reminder, reference in rows:
        if reminder.target_partner_id:
            target = org.partner(reminder.target_partner_id).name
        else:
            found = org.member(str(reminder.target_member_id))
            target = found.name if found else str(reminder.target_member_id)
        lines.append(Message("herinnering/lijstregel", {
            "id": reminder.id, "soort": reminder.kind, "referentie": reference, "aan": target,
            "due": services.local(reminder.due_at), "status": _status(reminder, now),
            "reden": reminder.cancel_reason, "pogingen": reminder.attempts,
            "tot": services.local(reminder.postponed_to) if reminder.postponed_to else None,
        }))
    if count and count > len(rows):
        lines.append(Message("herinnering/lijst_meer", {"aantal": count - len(rows)}))
    return lines


def _status(reminder: Reminder, now: datetime) -> str:
    if reminder.done_at:
        return "gedaan"
    if reminder.cancelled_at:
        return "geannuleerd"
    if reminder.failed_at:
        return "mislukt"
    if reminder.sent_at:
        if reminder.postponed_to:
            return "uitgesteld"
        if reminder.acknowledged_at:
            return "ontvangen"
        return "te_laat_verstuurd" if reminder.late else "verstuurd"
    if reminder.attempts:
        return "opnieuw"
    return "te_versturen" if aware(reminder.due_at) <= now else "gepland"
