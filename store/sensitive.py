"""Where the sensitive data lives: the one registry that key rotation, erasure, retention and
the inzage export walk.

- **Encrypted columns** are found in the models themselves: every `LargeBinary` column (or a
  column type built on it) holds a Fernet token, unless it says otherwise with
  ``info={"encrypted": False}``. A new encrypted column is picked up by key rotation without
  any further change.
- **Free text** is listed in `FREE_TEXT`: per model, the columns people type into and how the
  rows of one case are found. A new free-text column is added there; a test fails when a
  text column is in neither `FREE_TEXT` nor `NOT_FREE_TEXT`.
- **Personal rows** (`PERSONAL_ROWS`) are removed whole on erasure (name, address, postcode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, LargeBinary, Table, literal, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from store.crypto import PersonalDataCipher
from store.models import (
    Base,
    Case,
    CaseNote,
    CasePersonalData,
    Decision,
    Event,
    Feedback,
    HouseholdCorrection,
    Reminder,
    Vote,
)

ERASED_TEXT = "[gewist]"  # what a required free-text column holds after erasure


@dataclass(frozen=True)
class FreeText:
    """Free-text columns of one model; `case_column` links a row to its case."""

    model: type[Base]
    columns: tuple[str, ...]
    case_column: str = "case_id"

    @property
    def table(self) -> Table:
        table = self.model.__table__
        assert isinstance(table, Table)
        return table


FREE_TEXT: tuple[FreeText, ...] = (
    FreeText(Case, ("reason_other", "voortraject", "insufficient_because", "contact_person",
                    "outcome_reason", "shelter"), case_column="id"),
    FreeText(Vote, ("steps_text",)),
    FreeText(Decision, ("q2_text", "deviation_reason", "reopen_reason")),
    FreeText(Feedback, ("text",)),
    FreeText(CaseNote, ("text",)),
    FreeText(Reminder, ("postpone_reason",)),
    FreeText(Event, ("note",)),
    FreeText(HouseholdCorrection, ("reason",)),
)

PERSONAL_ROWS: tuple[type[Base], ...] = (CasePersonalData,)

# Text and encrypted columns that are not free text of a case: codes, keys, names from the
# organisation file, system messages, and encrypted values handled as whole rows. Checked by a
# test together with FREE_TEXT, so that no new text or encrypted column goes unseen.
NOT_FREE_TEXT: frozenset[str] = frozenset({
    "regieteams.id", "regieteams.name", "partners.id", "partners.name", "partners.kind",
    "members.id", "members.name", "members.partner_id",
    "cases.reference", "cases.submission_key", "cases.regieteam_id", "cases.corporation_id",
    "cases.filed_by", "cases.phase", "cases.reason", "cases.wijk", "cases.casemanager_id",
    "cases.outcome", "cases.shelter_kind", "cases.reported_to",
    "household_corrections.corrected_by",
    "channel_pace.platform", "channel_pace.channel",
    "case_categories.category",
    "meetings.regieteam_id", "meetings.agenda_posted_by",
    "agenda_items.section", "agenda_items.added_by",
    "thread_refs.platform", "thread_refs.purpose", "thread_refs.channel", "thread_refs.message_ref",
    "thread_refs.thread_ref",
    "votes.member_id", "votes.question", "votes.choice",
    "decisions.q1", "decisions.q3", "decisions.recorded_by", "decisions.superseded_by",
    "assignments.member_id", "assignments.appointed_by",
    "plan_conditions.key", "plan_conditions.state", "plan_conditions.updated_by",
    "feedback.member_id", "feedback.submission_key",
    "case_notes.member_id",
    "reminders.dedupe_key", "reminders.kind", "reminders.target_partner_id",
    "reminders.target_member_id", "reminders.claimed_by", "reminders.last_error",
    "reminders.cancel_reason", "reminders.acknowledged_by", "reminders.done_by",
    "nazorg_checks.answered_by",
    "events.kind", "events.actor_id",
    "processed_requests.key", "form_drafts.key",
    "outbox.destination_kind", "outbox.destination_id", "outbox.update_key", "outbox.template",
    "outbox.claimed_by", "outbox.cancel_reason", "outbox.last_error",
    "rollup_counts.span", "rollup_counts.kind", "rollup_counts.regieteam_id",
    "rollup_counts.corporation_id", "rollup_counts.category", "rollup_counts.outcome",
    "rollup_counts.reason", "rollup_lead_times.span", "rollup_lead_times.measure",
    "rollup_lead_times.regieteam_id", "rollup_lead_times.corporation_id",
    "rollup_lead_times.category",
    # encrypted, and handled as whole rows: deleted on erasure (personal data, drafts) or kept
    "case_personal_data.tenant_name", "case_personal_data.address", "case_personal_data.postcode",
    "form_drafts.data", "key_check.token", "outbox.payload",
})


def is_encrypted(column: Column[Any]) -> bool:
    if column.info.get("encrypted") is False:
        return False
    kind = column.type
    return isinstance(kind, LargeBinary) or isinstance(getattr(kind, "impl", None), LargeBinary)


@dataclass(frozen=True)
class EncryptedColumns:
    table: Table
    columns: tuple[str, ...]

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.table.primary_key.columns)


def encrypted_columns() -> list[EncryptedColumns]:
    """Every table with encrypted columns, in a stable order."""
    found = []
    for table in Base.metadata.sorted_tables:
        names = tuple(column.name for column in table.columns if is_encrypted(column))
        if names:
            found.append(EncryptedColumns(table, names))
    return found


def raw_column(column: Column[Any]) -> ColumnElement[bytes]:
    """The stored bytes, also when a column type decrypts on reading."""
    return type_coerce(column, LargeBinary()).label(column.name)


def erased_value(column: Column[Any], cipher: PersonalDataCipher) -> Any:
    """What a free-text column holds after erasure: NULL, or a fixed marker when the column is
    required (encrypted like any value, so that readers show the marker)."""
    if column.nullable:
        return None
    if is_encrypted(column):
        return literal(cipher.encrypt(ERASED_TEXT), LargeBinary())  # raw bytes, whatever the type
    return ERASED_TEXT
