"""The AVG duties: inzage, correction, erasure, retention and key rotation.

These run from the command line (`regiebot inzage|corrigeer|vergeet|privacy|key`), by an
operator who has access to the server. Every one of them is an event in the case's history
(or, for key rotation, in the bot's history); an event never holds a personal value, and a
typed reason is stored encrypted in the event's note.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands import events
from commands.cases import case_by_reference
from commands.context import Services
from commands.melding import check_field, field_error, melding_fields
from commands.replies import CommandRefused, FormInvalid, Message
from commands.validation import FieldProblem, check_free_text
from commands.words import Phase
from store.crypto import DecryptionFailed, PersonalDataCipher
from store.erasure import erase_case, reclaim_space
from store.models import (
    AgendaItem,
    Assignment,
    Case,
    CaseCategory,
    CasePersonalData,
    Decision,
    Event,
    Feedback,
    Meeting,
    NazorgCheck,
    PlanCondition,
    Reminder,
    ThreadRef,
    Vote,
)
from store.retention import ClosedCase, closed_cases_not_erased
from store.rotation import RotationReport, rotate_keys
from store.sensitive import is_encrypted

PERSONAL_FIELDS = {"naam": "huurder_naam", "adres": "adres", "postcode": "postcode"}
VIEW_KINDS = ("personal_data_viewed", "personal_data_refused", "inzage_exported")
MEMBER_COLUMNS = ("filed_by", "casemanager_id", "member_id", "actor_id", "recorded_by",
                  "appointed_by", "updated_by", "answered_by", "acknowledged_by", "done_by",
                  "superseded_by", "added_by")


@dataclass(frozen=True)
class Operator:
    """Who runs a privacy command: the door (cli) and the operating-system user."""

    door: str
    user: str

    def event_data(self) -> dict[str, str]:
        return {"door": self.door, "gebruiker": self.user}


# --- reading encrypted values ----------------------------------------------------------------


def reveal(cipher: PersonalDataCipher, value: Any) -> Any:
    """A stored value as people read it: encrypted bytes decrypted, erased bytes as None."""
    if isinstance(value, bytes | memoryview):
        token = bytes(value)
        if not token:
            return None
        try:
            return cipher.decrypt(token)
        except DecryptionFailed:
            raise CommandRefused("privacy/ontsleutelen_mislukt") from None
    return value


def household_fields(cipher: PersonalDataCipher, row: CasePersonalData) -> dict[str, str]:
    """Name, address and postcode, decrypted; a failed decryption is a refusal that says what
    to do, never a traceback."""
    return {"naam": reveal(cipher, row.tenant_name), "adres": reveal(cipher, row.address),
            "postcode": reveal(cipher, row.postcode)}


# --- inzage ----------------------------------------------------------------------------------


@dataclass
class Inzage:
    """Everything stored about one household, section by section (rows as column → value)."""

    reference: str
    made_at: datetime
    erased_at: datetime | None
    sections: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    members: dict[str, dict[str, str]] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """Plain JSON-ready data (dates as ISO 8601, UTC)."""
        document: dict[str, Any] = _jsonable({
            "referentie": self.reference, "gemaakt_op": self.made_at, "gewist_op": self.erased_at,
            "onderdelen": {name: rows for name, rows in self.sections},
            "deelnemers": self.members,
        })
        return document


def _row(cipher: PersonalDataCipher, obj: Any) -> dict[str, Any]:
    table = obj.__table__
    values: dict[str, Any] = {}
    for column in table.columns:
        value = getattr(obj, column.key)
        values[column.name] = reveal(cipher, value) if is_encrypted(column) else value
    return values


async def _rows(session: AsyncSession, cipher: PersonalDataCipher, query: Any) -> list[dict[str, Any]]:
    return [_row(cipher, obj) for obj in (await session.scalars(query)).all()]


async def inzage(services: Services, reference: str) -> Inzage:
    """Collect everything stored about the case's household (nothing is recorded yet: call
    `record_inzage` once the documents are written)."""
    cipher = services.cipher
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
        result = Inzage(case.reference, services.now(), case.erased_at)
        case_row = _row(cipher, case)
        result.sections.append(("casus", [case_row]))
        personal = await session.get(CasePersonalData, case.id)
        result.sections.append(("persoonsgegevens", [] if personal is None else [
            {"naam": reveal(cipher, personal.tenant_name), "adres": reveal(cipher, personal.address),
             "postcode": reveal(cipher, personal.postcode)}]))
        result.sections.append(("huishouden", await _rows(
            session, cipher, select(CaseCategory).where(CaseCategory.case_id == case.id))))
        agenda = []
        for item, meeting_date, team in (await session.execute(
                select(AgendaItem, Meeting.meeting_date, Meeting.regieteam_id)
                .join(Meeting, Meeting.id == AgendaItem.meeting_id)
                .where(AgendaItem.case_id == case.id).order_by(Meeting.meeting_date))).all():
            agenda.append({**_row(cipher, item), "overleg_datum": meeting_date, "regieteam": team})
        result.sections.append(("agenda", agenda))
        for name, model, order in (
                ("stemmen", Vote, Vote.cast_at), ("besluiten", Decision, Decision.recorded_at),
                ("casemanagers", Assignment, Assignment.appointed_at),
                ("voorwaarden", PlanCondition, PlanCondition.id),
                ("terugkoppelingen", Feedback, Feedback.given_at),
                ("herinneringen", Reminder, Reminder.due_at),
                ("nazorg", NazorgCheck, NazorgCheck.months)):
            column = model.__table__.c.case_id
            result.sections.append((name, await _rows(
                session, cipher, select(model).where(column == case.id).order_by(order))))
        history = await _rows(session, cipher, select(Event).where(Event.case_id == case.id)
                              .order_by(Event.at, Event.id))
        result.sections.append(("inzages", [row for row in history if row["kind"] in VIEW_KINDS]))
        result.sections.append(("gebeurtenissen", [row for row in history
                                                   if row["kind"] not in VIEW_KINDS]))
        result.sections.append(("berichten", await _rows(session, cipher, select(ThreadRef).where(
            ThreadRef.purpose == "case_thread", ThreadRef.object_id == case.id))))
    result.members = _members(services, result.sections)
    return result


def _members(services: Services,
             sections: Iterable[tuple[str, list[dict[str, Any]]]]) -> dict[str, dict[str, str]]:
    ids: set[str] = set()
    for _name, rows in sections:
        for row in rows:
            ids |= {str(row[c]) for c in MEMBER_COLUMNS if row.get(c)}
            voters = row.get("voters")
            if isinstance(voters, list):
                ids |= {str(v) for v in voters}
    found = {}
    for member_id in sorted(ids):
        member = services.org.member(member_id)
        if member is not None:
            found[member_id] = {"naam": member.name, "organisatie": services.org.partner(member.partner).name}
    return found


async def record_inzage(services: Services, reference: str, operator: Operator,
                        files: Sequence[str]) -> None:
    """The inzage was written: record it in the case's history."""
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
        events.record(session, case, "inzage_exported", None, services.now(),
                      bestanden=list(files), **operator.event_data())


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- reasons ---------------------------------------------------------------------------------


def _reason(services: Services, text: str | None, household: Iterable[str]) -> str:
    """A reason is required, holds no identifiers and does not name the household."""
    if not text or not text.strip():
        raise CommandRefused("privacy/reden_nodig")
    try:
        cleaned = check_free_text(text, services.today(), max_length=500, min_length=5)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld="uitleg", **problem.data) from None
    lowered = cleaned.lower()
    if any(value and value.lower() in lowered for value in household):
        raise CommandRefused("privacy/reden_noemt_huishouden")
    return cleaned


# --- correction ------------------------------------------------------------------------------


def _checked_personal_fields(services: Services, changes: Mapping[str, str | None]) -> dict[str, str]:
    wanted = {key: value for key, value in changes.items() if value is not None}
    if not wanted:
        raise CommandRefused("privacy/niets_te_corrigeren")
    fields = {f.name: f for f in melding_fields(services.org, services.org.members[0])}
    checked, errors = {}, {}
    for key, value in wanted.items():
        form_field = fields[PERSONAL_FIELDS[key]]
        try:
            checked[key] = str(check_field(form_field, value, services.today()))
        except FieldProblem as problem:
            errors[form_field.name] = field_error(form_field, problem)
    if errors:
        raise FormInvalid(errors)
    return checked


async def correct_personal_data(services: Services, reference: str, operator: Operator,
                                changes: Mapping[str, str | None], reason: str | None) -> list[str]:
    """Correct the household's name, address and/or postcode. Returns the corrected fields."""
    checked = _checked_personal_fields(services, changes)
    cipher = services.cipher
    async with services.transaction() as session:
        case = await case_by_reference(session, reference, lock=True)
        row = await session.get(CasePersonalData, case.id)
        if row is None or case.erased_at is not None:
            raise CommandRefused("privacy/al_gewist", referentie=case.reference)
        current = household_fields(cipher, row)
        reason_text = _reason(services, reason, [*current.values(), *checked.values()])
        changed = sorted(key for key, value in checked.items() if current[key] != value)
        if not changed:
            raise CommandRefused("privacy/al_zo", referentie=case.reference)
        columns = {"naam": "tenant_name", "adres": "address", "postcode": "postcode"}
        for key in changed:
            setattr(row, columns[key], cipher.encrypt(checked[key]))
        event = events.record(session, case, "personal_data_corrected", None, services.now(),
                              velden=changed, **operator.event_data())
        event.note = cipher.encrypt(reason_text)
    return changed


# --- erasure ---------------------------------------------------------------------------------


async def forget_household(services: Services, reference: str, operator: Operator,
                           reason: str | None) -> str:
    """Erase the household's personal data and all free text of a closed case, on request."""
    async with services.transaction() as session:
        case = await case_by_reference(session, reference, lock=True)
        if case.erased_at is not None:
            raise CommandRefused("privacy/al_gewist", referentie=case.reference)
        if case.phase != Phase.GESLOTEN:
            raise CommandRefused("privacy/eerst_sluiten", referentie=case.reference)
        household = await _household(session, services, case)
        reason_text = _reason(services, reason, household)
        await erase_case(session, case, services.cipher, household, services.now())
        event = events.record(session, case, "case_erased", None, services.now(),
                              grond="verzoek", **operator.event_data())
        event.note = services.cipher.encrypt(reason_text)
    await _reclaim(services)
    return case.reference


async def _household(session: AsyncSession, services: Services, case: Case) -> list[str]:
    row = await session.get(CasePersonalData, case.id)
    if row is None:
        return []
    try:
        return list(household_fields(services.cipher, row).values())
    except CommandRefused:
        return []  # a value no key can read is erased all the same


async def _reclaim(services: Services) -> None:
    bind = services.sessions.kw.get("bind")
    if bind is not None:
        await reclaim_space(bind)


# --- retention -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionDue:
    reference: str
    closed_on: date
    last_nazorg: date | None
    erase_on: date


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _retention_start(services: Services, row: ClosedCase) -> tuple[date, date | None]:
    closed = services.local(row.closed_at).date()
    nazorg = [d for d in (row.last_nazorg_due,
                          services.local(row.last_nazorg_answered).date()
                          if row.last_nazorg_answered else None) if d is not None]
    last_nazorg = max(nazorg) if nazorg else None
    return max(closed, last_nazorg or closed), last_nazorg


async def due_for_erasure(services: Services) -> list[RetentionDue]:
    """Closed cases whose retention period has passed and whose data is still stored."""
    months = services.org.rules.retention_months
    today = services.today()
    earliest = add_months(today, -months) + timedelta(days=1)
    closed_before = datetime.combine(earliest, datetime.min.time(), services.timezone)
    async with services.transaction() as session:
        rows = await closed_cases_not_erased(session, closed_before.astimezone(UTC))
    due = []
    for row in rows:
        start, last_nazorg = _retention_start(services, row)
        erase_on = add_months(start, months)
        if erase_on <= today:
            due.append(RetentionDue(row.reference, services.local(row.closed_at).date(),
                                    last_nazorg, erase_on))
    return due


async def apply_retention(services: Services) -> list[str]:
    """Erase every case whose retention period has passed (the daily job). One case per
    transaction, so an interruption loses nothing."""
    erased = []
    for item in await due_for_erasure(services):
        async with services.transaction() as session:
            case = await case_by_reference(session, item.reference, lock=True)
            if case.erased_at is not None:
                continue
            household = await _household(session, services, case)
            await erase_case(session, case, services.cipher, household, services.now())
            events.record(session, case, "case_erased", None, services.now(), grond="bewaartermijn",
                          bewaartermijn_maanden=services.org.rules.retention_months,
                          door="planner")
        erased.append(item.reference)
    if erased:
        await _reclaim(services)
    return erased


# --- key rotation ----------------------------------------------------------------------------


async def rotate_key(services: Services, operator: Operator) -> RotationReport:
    """Encrypt every stored value again with the first key of REGIEBOT_SECRET_KEY."""
    report = await rotate_keys(services.sessions, services.cipher)
    async with services.transaction() as session:
        events.record(session, None, "key_rotated", None, services.now(),
                      opnieuw_versleuteld=report.total, al_actueel=report.current,
                      **operator.event_data())
    return report


def refusal_text(refused: CommandRefused | FormInvalid) -> list[Message]:
    """The messages of a refusal, for the command line."""
    if isinstance(refused, FormInvalid):
        return list(refused.errors.values())
    return [refused.message]
