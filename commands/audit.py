"""The audit: who saw or changed a household's data, through which door, for what, and when.

Recording a view
----------------
A view of personal data counts only when the data was decrypted *and* reached the member
privately. Use cases therefore never write a view themselves. They decrypt first, and only
when every field decrypted they put a `ViewToRecord` on the private message
(`view_on_delivery`). The adapter delivers that message privately (console output, Slack
ephemeral or direct message, Telegram private chat) and, once the platform accepted it,
calls `record_delivered(services, message)`, which writes the `personal_data_viewed` event
in its own short transaction. So:

- a failed decryption raises before a message exists: no view is recorded;
- a failed delivery (a platform error, a blocked bot, an expired response_url) raises or
  returns before `record_delivered`: no view is recorded;
- a refusal does not depend on any delivery and is recorded at once (`record_refusal`).

This order was chosen over "record first, undo when the delivery fails": the audit never
lists a view that did not happen, and no event is ever deleted. Should the process stop in
the instant between the delivery and the record, that one view is missing; the platform's
own log still holds the delivery.

`record_view(session, …)` writes a view inside the caller's transaction, for a use case that
delivers by itself and knows it arrived.

Every view and refusal names the member, the door (slack, telegram, console, cli), the
purpose (the command or button that asked) and, on the console and the command line, the
operating-system user. The door and purpose come from the adapter (`Services.asked`).

The export
----------
`export_audit` (coordinator, from a chat) and `export_for_operator` (the command line) give
a CSV of every event that concerns the household's data: views and refused views, filing,
decisions and reopenings, appointments, feedback, closing, corrections, erasures, key
rotations, console role switches and the audit exports themselves. Only process steps that
neither show nor change personal data (votes, agenda items, reminders) are left out. The CSV
holds references, member ids, choices and times; never personal data or free text.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from commands.cases import case_by_reference
from commands.context import Request, Services
from commands.permissions import whom_to_ask
from commands.replies import Attachment, CommandRefused, Message, Result, ViewToRecord
from commands.validation import FieldProblem, parse_date
from store.models import Case, Event

log = logging.getLogger(__name__)


class Member(Protocol):
    """The acting member, as far as the audit needs it (the organisation's member fits)."""

    @property
    def id(self) -> str: ...

    def has_role(self, *roles: str) -> bool: ...


VIEWED = "personal_data_viewed"
REFUSED = "personal_data_refused"
EXPORTED = "audit_exported"
ROLE_SWITCHED = "console_role_switched"
DEMO_DATABASE = "demo_database"

# Process steps that neither show nor change the household's data: not in the export.
PROCESS_STEPS = frozenset({
    "vote_cast", "vote_changed", "agenda_added", "besluitenlijst_published", "termijn_changed",
    "reminder_sent", "reminder_acknowledged", "reminder_done", "reminder_postponed",
    "nazorg_answered", DEMO_DATABASE,
})
REQUEST_KEYS = ("deur", "doel", "bediener", "wat")
CSV_COLUMNS = ("tijdstip", "referentie", "gebeurtenis", "lid", "naam_lid", "deur", "doel",
               "bediener", "wat", "details")
# A detail value is shown only when it is a choice or an id, never a sentence.
_TOKEN = re.compile(r"^[A-Za-z0-9_.:\-]{1,40}$")
_REFERENCE = re.compile(r"^RT-\d{4}-\d{1,6}$", re.IGNORECASE)


# --- recording -------------------------------------------------------------------------------


def _request_data(request: Request, what: str) -> dict[str, Any]:
    data: dict[str, Any] = {"deur": request.door, "doel": request.purpose, "wat": what}
    if request.operator:
        data["bediener"] = request.operator
    return data


def record_view(
    session: AsyncSession, case: Case | int, member_id: str, request: Request, what: str,
    at: datetime,
) -> Event:
    """Record that `member_id` saw `what` of the case, delivered privately through the door of
    `request`. Call it only after the data was decrypted and delivered."""
    case_id = case if isinstance(case, int) else case.id
    event = Event(case_id=case_id, kind=VIEWED, actor_id=member_id, at=at,
                  data=_request_data(request, what))
    session.add(event)
    return event


def record_refusal(
    session: AsyncSession, case: Case, member_id: str, request: Request, what: str, at: datetime,
) -> Event:
    """Record that `member_id` asked for `what` of the case and was refused."""
    event = Event(case_id=case.id, kind=REFUSED, actor_id=member_id, at=at,
                  data=_request_data(request, what))
    session.add(event)
    return event


def view_on_delivery(services: Services, case: Case, member: Member, what: str) -> ViewToRecord:
    """The view to put on a private message; recorded by `record_delivered` once it arrived."""
    request = services.request
    return ViewToRecord(case_id=case.id, member_id=member.id, what=what, door=request.door,
                        purpose=request.purpose, operator=request.operator)


async def record_delivered(services: Services, message: Message) -> None:
    """The adapter delivered `message` privately: record the view it carries, if any.

    The member has seen the data by now, so a database problem here is logged (without
    values) rather than shown to them."""
    view = message.view
    if view is None:
        return
    request = Request(view.door, view.purpose, view.operator)
    try:
        async with services.transaction() as session:
            record_view(session, view.case_id, view.member_id, request, view.what, services.now())
    except SQLAlchemyError as exc:
        log.error("audit: weergave bij casus %s niet vastgelegd (%s)", view.case_id,
                  type(exc).__name__)


# --- the demo database and switching members on the console ---------------------------------


def mark_demo_database(session: AsyncSession, references: Iterable[str], at: datetime) -> None:
    """`regiebot demo` filled this database: remember which cases it made."""
    session.add(Event(case_id=None, kind=DEMO_DATABASE, actor_id=None, at=at,
                      data={"referenties": sorted(references)}))


async def is_demo_database(services: Services) -> bool:
    """True when `regiebot demo` filled this database and it holds no other cases."""
    async with services.sessions() as session:
        marks = (await session.scalars(
            select(Event.data).where(Event.kind == DEMO_DATABASE, Event.case_id.is_(None))
        )).all()
        if not marks:
            return False
        made = {str(ref) for data in marks for ref in (data or {}).get("referenties", [])}
        others = await session.scalar(
            select(func.count()).select_from(Case).where(Case.reference.not_in(made))
            if made else select(func.count()).select_from(Case))
    return not others


async def switch_ground(services: Services, admin: bool) -> str:
    """Why the console may act as another member: 'beheerder' (explicit admin flag) or
    'demo' (the demo database). Refuses otherwise."""
    if admin:
        return "beheerder"
    if await is_demo_database(services):
        return "demo"
    raise CommandRefused("audit/als_geweigerd")


async def record_role_switch(
    services: Services, previous: Member | None, now_acting: Member, ground: str,
) -> None:
    """The console acts as `now_acting` from here on (`/als`, `--as`)."""
    request = services.request
    async with services.transaction() as session:
        session.add(Event(case_id=None, kind=ROLE_SWITCHED, actor_id=now_acting.id,
                          at=services.now(), data={
                              "deur": request.door, "doel": request.purpose,
                              "bediener": request.operator or "", "van": previous.id if previous else "",
                              "grond": ground,
                          }))


# --- the export --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditQuery:
    """Which events to export: a period of calendar days (both ends included) and/or a case."""

    van: date | None = None
    tot: date | None = None
    reference: str | None = None

    @property
    def stem(self) -> str:
        parts = ["audit"]
        if self.reference:
            parts.append(self.reference)
        if self.van:
            parts.append(f"van_{self.van.isoformat()}")
        if self.tot:
            parts.append(f"tot_{self.tot.isoformat()}")
        return "_".join(parts)


def audit_query(reference: str | None = None, van: str | None = None,
                tot: str | None = None) -> AuditQuery:
    """Check what was typed: a reference like RT-2026-0001, dates like 01-06-2026."""
    if reference is not None and not _REFERENCE.match(reference.strip()):
        raise CommandRefused("audit/referentie_vorm")
    start = _day("van", van) if van else None
    end = _day("tot", tot) if tot else None
    if start and end and start > end:
        raise CommandRefused("audit/periode_omgekeerd", van=start, tot=end)
    return AuditQuery(start, end, reference.strip().upper() if reference else None)


def _day(which: str, text: str) -> date:
    try:
        return parse_date(text)
    except FieldProblem:
        raise CommandRefused("audit/datum_onjuist", grens=which) from None


def _bounds(services: Services, query: AuditQuery) -> tuple[datetime | None, datetime | None]:
    zone = services.timezone
    start = (datetime.combine(query.van, time(0), tzinfo=zone).astimezone(UTC)
             if query.van else None)
    end = (datetime.combine(query.tot + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
           if query.tot else None)
    return start, end


async def audit_rows(
    services: Services, session: AsyncSession, query: AuditQuery, case_id: int | None = None,
) -> list[tuple[str, ...]]:
    """The privacy-relevant events asked for (of one case when `case_id` is given), oldest
    first, in the order of CSV_COLUMNS."""
    statement = (select(Event, Case.reference).outerjoin(Case, Case.id == Event.case_id)
                 .where(Event.kind.not_in(PROCESS_STEPS)).order_by(Event.at, Event.id))
    if case_id is not None:
        statement = statement.where(Event.case_id == case_id)
    start, end = _bounds(services, query)
    if start is not None:
        statement = statement.where(Event.at >= start)
    if end is not None:
        statement = statement.where(Event.at < end)
    rows = (await session.execute(statement)).all()
    return [_csv_row(services, event, reference) for event, reference in rows]


def _csv_row(services: Services, event: Event, reference: str | None) -> tuple[str, ...]:
    data = event.data or {}
    member = services.org.member(event.actor_id) if event.actor_id else None
    return (
        services.local(event.at).isoformat(timespec="seconds"),
        reference or "",
        event.kind,
        event.actor_id or "",
        member.name if member else "",
        *(str(data.get(key) or "") for key in REQUEST_KEYS),
        _details(data),
    )


def _details(data: dict[str, Any]) -> str:
    """The event's structured facts (choices, ids, numbers); free text is never shown."""
    shown = []
    for key in sorted(data):
        if key in REQUEST_KEYS:
            continue
        value = _safe_value(data[key])
        if value is not None:
            shown.append(f"{key}={value}")
    return "; ".join(shown)


def _safe_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value if _TOKEN.match(value) else None
    if isinstance(value, list) and all(isinstance(v, str) and _TOKEN.match(v) for v in value):
        return ",".join(value)
    return None


def csv_bytes(rows: Iterable[tuple[str, ...]]) -> bytes:
    """Comma-separated (RFC 4180), UTF-8, header row first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


async def _export(services: Services, actor_id: str | None, query: AuditQuery) -> bytes:
    """The CSV; the export itself is recorded in the same transaction."""
    request = services.request
    async with services.transaction() as session:
        case_id = None
        if query.reference:
            case_id = (await case_by_reference(session, query.reference)).id
        rows = await audit_rows(services, session, query, case_id)
        data: dict[str, Any] = {**_request_data(request, "audit"), "regels": len(rows)}
        if query.van:
            data["van"] = query.van.isoformat()
        if query.tot:
            data["tot"] = query.tot.isoformat()
        session.add(Event(case_id=case_id, kind=EXPORTED, actor_id=actor_id, at=services.now(),
                          data=data))
    return csv_bytes(rows)


async def export_audit(
    services: Services, member: Member, reference: str | None = None, van: str | None = None,
    tot: str | None = None,
) -> Result:
    """`/audit [RT-…] [van] [tot]`: the coordinator gets the audit as a CSV file, privately."""
    if not member.has_role("coordinator"):
        raise CommandRefused("fout/geen_rol", rollen=["coordinator"], vraag=whom_to_ask(services.org))
    query = audit_query(reference, van, tot)
    content = await _export(services, member.id, query)
    rows = content.count(b"\r\n") - 1
    attachment = Attachment(f"{query.stem}.csv", content, "text/csv", f"{query.stem}.csv")
    message = Message("audit/export", {"referentie": query.reference, "van": query.van,
                                       "tot": query.tot, "regels": rows})
    return Result(replies=[message], files=[attachment], value=rows)


async def export_for_operator(services: Services, query: AuditQuery) -> bytes:
    """`regiebot audit export`: the same CSV for whoever runs the command on the server; the
    export is recorded with the operating-system user of `services.request`."""
    return await _export(services, None, query)
