"""Database models. Times are stored in UTC; dates are calendar dates in Europe/Amsterdam.

Personal data of the household (name, address, postcode) lives only in `case_personal_data`.
Every free-text answer (voortraject, reasons, notes, feedback, shelter) is personal data too.
Both are encrypted with the bot's key (Fernet) and marked `info={"encrypted": True}`:
`encrypted_columns()` lists them, for key rotation and erasure. Every other column can be
shown, counted and exported without exposing a household.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UtcDateTime = DateTime(timezone=True)
ENCRYPTED: dict[str, Any] = {"encrypted": True}


def encrypted() -> Any:
    """A column holding a Fernet token of personal data or free text (see `encrypted_columns`)."""
    return mapped_column(LargeBinary, info=dict(ENCRYPTED))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON, list[Any]: JSON, datetime: UtcDateTime
    }


# --- organisation (mirrored from the organisation file) ------------------------------------


class RegieteamRow(Base):
    __tablename__ = "regieteams"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))


class PartnerRow(Base):
    __tablename__ = "partners"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(32))


class MemberRow(Base):
    __tablename__ = "members"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    roles: Mapped[list[Any]] = mapped_column(default=list)


# --- cases -----------------------------------------------------------------------------------


class CaseSequence(Base):
    """The last reference number handed out per year (row-locked while filing)."""

    __tablename__ = "case_sequences"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


OPEN_CASE_SQL = "phase != 'gesloten'"
OPEN_REMINDER_SQL = "done_at IS NULL AND cancelled_at IS NULL"
OPEN_CASE_INDEXES: dict[str, tuple[str, ...]] = {
    "ix_cases_open_regieteam": ("regieteam_id", "phase"),
    "ix_cases_open_corporation": ("corporation_id", "phase"),
    "ix_cases_open_casemanager": ("casemanager_id", "termijn"),
    "ix_cases_open_termijn": ("phase", "termijn"),
    "ix_cases_open_terugkoppeling": ("phase", "next_terugkoppeling"),
}


class Case(Base):
    """A melding and everything the Regieteam decides and does about it."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("year", "seq"),
        Index("ix_cases_regieteam_phase", "regieteam_id", "phase"),
        Index("ix_cases_phase_termijn", "phase", "termijn"),
        Index("ix_cases_phase_terugkoppeling", "phase", "next_terugkoppeling"),
        Index("ix_cases_filed_at", "filed_at"),
        Index("ix_cases_closed_at", "closed_at"),
        Index("ix_cases_corporation_phase", "corporation_id", "phase"),
        Index("ix_cases_casemanager_phase", "casemanager_id", "phase"),
        # partial indexes on the open phases: the agenda, App Home and /status read open cases
        # only, so their cost follows the open cases and not the closed history. A query uses
        # them when it carries `open_case()` (the same predicate, word for word, for SQLite).
        *(Index(name, *columns, sqlite_where=text(OPEN_CASE_SQL),
                postgresql_where=text(OPEN_CASE_SQL))
          for name, columns in OPEN_CASE_INDEXES.items()),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    submission_key: Mapped[str | None] = mapped_column(String(128), unique=True)

    regieteam_id: Mapped[str] = mapped_column(ForeignKey("regieteams.id"))
    corporation_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    filed_by: Mapped[str] = mapped_column(ForeignKey("members.id"))
    filed_at: Mapped[datetime]
    phase: Mapped[str] = mapped_column(String(16))  # commands.words.Phase, set on filing

    # casusformulier (free text encrypted; name and address in CasePersonalData)
    reason: Mapped[str] = mapped_column(String(32))
    reason_other: Mapped[bytes | None] = encrypted()
    minor_children: Mapped[int] = mapped_column(Integer, default=0)
    arrears_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    arrears_months: Mapped[int] = mapped_column(Integer, default=0)
    dagvaarding_date: Mapped[date | None] = mapped_column(Date)
    zitting_date: Mapped[date | None] = mapped_column(Date)
    vonnis_date: Mapped[date | None] = mapped_column(Date)
    ontruiming_date: Mapped[date | None] = mapped_column(Date)
    urgency_date: Mapped[date | None] = mapped_column(Date)  # nearest of zitting/ontruiming
    voortraject: Mapped[bytes] = encrypted()
    insufficient_because: Mapped[bytes] = encrypted()
    tenant_informed: Mapped[bool] = mapped_column(Boolean)
    wijk: Mapped[str] = mapped_column(String(80))
    contact_person: Mapped[bytes] = encrypted()

    # the plan
    scenario: Mapped[int | None] = mapped_column(Integer)
    casemanager_id: Mapped[str | None] = mapped_column(ForeignKey("members.id"))
    termijn: Mapped[date | None] = mapped_column(Date)
    terugkoppeling_weeks: Mapped[int | None] = mapped_column(Integer)
    next_terugkoppeling: Mapped[date | None] = mapped_column(Date)
    decided_at: Mapped[datetime | None]

    # closure
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(40))
    outcome_reason: Mapped[bytes | None] = encrypted()
    shelter_kind: Mapped[str | None] = mapped_column(String(40))  # one of commands.sluiten.SHELTERS
    shelter: Mapped[bytes | None] = encrypted()  # the short note with the shelter
    # a protected household that left for an unknown destination: reported to whom, when
    reported_to: Mapped[str | None] = mapped_column(String(20))
    reported_on: Mapped[date | None] = mapped_column(Date)

    # erasure (on request or after the retention period): personal data and free text are gone
    erased_at: Mapped[datetime | None]

    categories: Mapped[list[CaseCategory]] = relationship(
        back_populates="case", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def category_names(self) -> list[str]:
        return [row.category for row in self.categories]


def open_case() -> ColumnElement[bool]:
    """The open-phase predicate of the partial indexes, as a query term. The phase is written
    into the SQL (not a bound parameter), so SQLite and PostgreSQL match it to the indexes."""
    return Case.phase != literal_column("'gesloten'")


class CaseCategory(Base):
    __tablename__ = "case_categories"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(60), primary_key=True, index=True)
    case: Mapped[Case] = relationship(back_populates="categories", lazy="raise")


class HouseholdCorrection(Base):
    """A correction of the household's categories or number of minor children after filing.
    The reason is free text and stored encrypted."""

    __tablename__ = "household_corrections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    corrected_by: Mapped[str] = mapped_column(ForeignKey("members.id"))
    corrected_at: Mapped[datetime]
    categories_before: Mapped[list[Any]] = mapped_column(JSON)
    categories_after: Mapped[list[Any]] = mapped_column(JSON)
    children_before: Mapped[int] = mapped_column(Integer)
    children_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[bytes] = encrypted()


class CasePersonalData(Base):
    """Tenant name, address and postcode: encrypted with the bot's key (Fernet)."""

    __tablename__ = "case_personal_data"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    tenant_name: Mapped[bytes] = encrypted()
    address: Mapped[bytes] = encrypted()
    postcode: Mapped[bytes] = encrypted()


# --- meetings and agenda ---------------------------------------------------------------------


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("regieteam_id", "meeting_date"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    regieteam_id: Mapped[str] = mapped_column(ForeignKey("regieteams.id"))
    meeting_date: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime]
    cutoff_at: Mapped[datetime]
    agenda_posted_at: Mapped[datetime | None]
    agenda_posted_by: Mapped[str | None] = mapped_column(String(32))
    besluitenlijst_at: Mapped[datetime | None]
    besluitenlijst: Mapped[dict[str, Any] | None]
    items: Mapped[list[AgendaItem]] = relationship(
        back_populates="meeting", lazy="raise", order_by="AgendaItem.position"
    )


AGENDA_SECTIONS = ("nieuw", "terugkoppeling", "termijn", "doorgeschoven")


class AgendaItem(Base):
    """One case discussed in one meeting; votes and the decision hang off it."""

    __tablename__ = "agenda_items"
    __table_args__ = (UniqueConstraint("meeting_id", "case_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    section: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    addendum: Mapped[bool] = mapped_column(Boolean, default=False)
    added_at: Mapped[datetime]
    added_by: Mapped[str | None] = mapped_column(String(32))
    vote_closed_at: Mapped[datetime | None]
    meeting: Mapped[Meeting] = relationship(back_populates="items", lazy="raise")


class ThreadRef(Base):
    """Where a case's thread or a tally message lives on a platform (for in-place updates)."""

    __tablename__ = "thread_refs"
    __table_args__ = (UniqueConstraint("platform", "purpose", "object_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(24))  # agenda, case_thread, tally, reminder
    object_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(64))
    message_ref: Mapped[str] = mapped_column(String(64))
    thread_ref: Mapped[str | None] = mapped_column(String(64))


# --- votes and decisions ---------------------------------------------------------------------

QUESTIONS = ("q1", "q2", "q3")


class Vote(Base):
    """A member's current vote on one question in one case discussion."""

    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("agenda_item_id", "member_id", "question"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agenda_item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    question: Mapped[str] = mapped_column(String(4))
    choice: Mapped[str | None] = mapped_column(String(16))  # q1: ja/nee/twijfel, q3: ja/nee
    steps: Mapped[list[Any] | None]  # q2
    steps_text: Mapped[bytes | None] = encrypted()
    cast_at: Mapped[datetime]


class Decision(Base):
    """The Regieteam's decision on the three questions, recorded by the chair.

    At most one current (not superseded) decision per case discussion; reopening marks the
    current one superseded with a reason and keeps it.
    """

    __tablename__ = "decisions"
    __table_args__ = (
        Index(
            "uq_decisions_current", "agenda_item_id", unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
        Index("ix_decisions_recorded_at", "recorded_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agenda_item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id"))
    q1: Mapped[str] = mapped_column(String(16))
    q2_steps: Mapped[list[Any]]
    q2_text: Mapped[bytes | None] = encrypted()
    q3: Mapped[str] = mapped_column(String(16))
    tally: Mapped[dict[str, Any]]
    voters: Mapped[list[Any]]
    deviation_reason: Mapped[bytes | None] = encrypted()
    recorded_by: Mapped[str] = mapped_column(ForeignKey("members.id"))
    recorded_at: Mapped[datetime]
    superseded_at: Mapped[datetime | None]
    superseded_by: Mapped[str | None] = mapped_column(String(32))
    reopen_reason: Mapped[bytes | None] = encrypted()


# --- plan ------------------------------------------------------------------------------------


class Assignment(Base):
    """A casemanager appointed to a case (history kept; the current one has no ended_at)."""

    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    scenario: Mapped[int] = mapped_column(Integer)
    termijn: Mapped[date] = mapped_column(Date)
    terugkoppeling_weeks: Mapped[int] = mapped_column(Integer)
    appointed_by: Mapped[str] = mapped_column(String(32))
    appointed_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class PlanCondition(Base):
    """A condition or step of the plan and its state (open, voldaan, niet_voldaan, nvt)."""

    __tablename__ = "plan_conditions"
    __table_args__ = (UniqueConstraint("case_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    key: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), default="open")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(32))


class Feedback(Base):
    """A terugkoppeling on a case."""

    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    given_at: Mapped[datetime]
    text: Mapped[bytes] = encrypted()
    termijn_holds: Mapped[bool] = mapped_column(Boolean, default=True)
    conditions: Mapped[dict[str, Any]]
    submission_key: Mapped[str | None] = mapped_column(String(128), unique=True)


class CaseNote(Base):
    """A note on a case's timeline by a member entitled to its free text; shown to them only."""

    __tablename__ = "case_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    written_at: Mapped[datetime]
    text: Mapped[bytes] = encrypted()


# --- reminders, nazorg -----------------------------------------------------------------------


class Reminder(Base):
    """A reminder or notification that must reach a partner channel or a member."""

    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_due", "sent_at", "cancelled_at", "due_at"),
        Index("ix_reminders_case", "case_id"),
        Index("ix_reminders_kind_case", "kind", "case_id"),
        # requests still waiting for an answer (/status "bevestigingen"): not the history
        Index("ix_reminders_open_kind", "kind", "due_at", sqlite_where=text(OPEN_REMINDER_SQL),
              postgresql_where=text(OPEN_REMINDER_SQL)),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    target_partner_id: Mapped[str | None] = mapped_column(String(32))
    target_member_id: Mapped[str | None] = mapped_column(String(32))
    due_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    next_attempt_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(32))
    postponed_to: Mapped[datetime | None]
    postpone_reason: Mapped[bytes | None] = encrypted()


class NazorgCheck(Base):
    """After closure with the tenant staying: still housed and paying after 3, 6, 12 months?"""

    __tablename__ = "nazorg_checks"
    __table_args__ = (UniqueConstraint("case_id", "months"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    months: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(32))
    still_housed: Mapped[bool | None] = mapped_column(Boolean)
    paying: Mapped[bool | None] = mapped_column(Boolean)


# --- history and plumbing --------------------------------------------------------------------


class Event(Base):
    """One step in a case's history, with actor and time. `data` never holds personal data."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_case_at", "case_id", "at"),
        Index("ix_events_kind_at", "kind", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[bytes | None] = mapped_column(LargeBinary)  # free text (a reason), encrypted


class ProcessedRequest(Base):
    """Platform deliveries already handled (Slack event_id, Telegram update_id, …)."""

    __tablename__ = "processed_requests"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    at: Mapped[datetime]


class ChannelPace(Base):
    """The next moment a platform channel may get a message (shared by every bot process, so
    two replicas together keep the platform's per-channel rate)."""

    __tablename__ = "channel_pace"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_post_at: Mapped[datetime]


class OutboxMessage(Base):
    """A message waiting to reach a channel or a member: written in the same transaction as the
    change that causes it, and sent by the dispatcher (`commands.outbox`). What it says is
    encrypted (it may name a case's free text in a decision list); the rows are deleted a week
    after they were sent, given up or replaced."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_waiting", "sent_at", "cancelled_at", "failed_at", "id"),
        Index("ix_outbox_update_key", "update_key"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]
    destination_kind: Mapped[str] = mapped_column(String(16))
    destination_id: Mapped[str] = mapped_column(String(64))
    thread_case: Mapped[int | None] = mapped_column(Integer)
    update_key: Mapped[str | None] = mapped_column(String(120))
    template: Mapped[str] = mapped_column(String(120))
    payload: Mapped[bytes] = encrypted()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(String(300))


class FormDraft(Base):
    """A form in progress (e.g. a Telegram conversation); the answers are encrypted."""

    __tablename__ = "form_drafts"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    data: Mapped[bytes] = encrypted()
    updated_at: Mapped[datetime]


class KeyCheck(Base):
    """A known value encrypted with the bot's key at the first start: proves at every start
    that the configured key can read what is stored."""

    __tablename__ = "key_check"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


# --- figure rollups (maintained by commands.rollups, rebuilt by `regiebot cijfers herbereken`) --


class RollupCount(Base):
    """How many cases were filed (`kind` "gemeld") or closed ("gesloten") on one calendar day
    (Amsterdam; `span` "dag") or in one calendar month (`span` "maand", `day` its first day),
    per Regieteam, corporation and outcome; for closures also per scenario (0: none), reason
    and whether there are minor children. `category` "" is the case itself; a row with a
    category counts the case once for each of its household categories (per Regieteam only:
    `corporation_id` "")."""

    __tablename__ = "rollup_counts"
    span: Mapped[str] = mapped_column(String(8), primary_key=True)  # "dag" or "maand"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    regieteam_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    corporation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(String(60), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(40), primary_key=True)
    scenario: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    children: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class RollupLeadTime(Base):
    """A lead-time histogram: how many cases took `days` whole days for `measure`, counted on
    the day or in the month (`span`, as above) the measure ends in (the decision or the
    closure), per Regieteam, corporation and (as above) household category. One bucket per
    whole day, so medians and percentiles come out exactly as from the cases."""

    __tablename__ = "rollup_lead_times"
    span: Mapped[str] = mapped_column(String(8), primary_key=True)  # "dag" or "maand"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    measure: Mapped[str] = mapped_column(String(20), primary_key=True)
    regieteam_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    corporation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(String(60), primary_key=True)
    days: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer)


class RollupCase(Base):
    """What one case adds to the rollups right now (its cells, as JSON), so that a change to the
    case takes exactly its old contribution away before it adds the new one."""

    __tablename__ = "rollup_cases"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                         primary_key=True, autoincrement=False)
    cells: Mapped[dict[str, Any]]


class RollupState(Base):
    """One row: whether every case is counted in the rollups. False (or no row) after the
    upgrade that added them to a database with cases: the first /rapport, or
    `regiebot cijfers herbereken`, counts them all first."""

    __tablename__ = "rollup_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    counted: Mapped[bool] = mapped_column(Boolean)


def encrypted_columns() -> list[Column[Any]]:
    """Every column that holds encrypted personal data or free text, table by table."""
    return [column for table in Base.metadata.sorted_tables for column in table.columns
            if column.info.get("encrypted")]

