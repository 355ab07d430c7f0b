"""Free text is personal data: every free-text column holds a Fernet token.

Voortraject, reasons, vote notes, decision notes, feedback, shelter, postpone reasons and the
contact person become encrypted LargeBinary columns. Rows that already hold plain text are
encrypted here with the bot's key, read the way the bot reads it: the key handed to
`store.db.upgrade`, else REGIEBOT_SECRET_KEY, else var/secret.key. When such rows exist and no
key is found, the migration stops before it changes anything. The besluitenlijsten kept with
the meetings lose the free text they carried (step notes and the chair's reason).

Revision ID: 0005
Revises: 0007
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from store.crypto import PersonalDataCipher
from store.db import MigrationRefused

revision: str = "0005"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → [(column, type before, nullable)]
FREE_TEXT: dict[str, list[tuple[str, sa.types.TypeEngine[Any], bool]]] = {
    "cases": [
        ("reason_other", sa.String(length=200), True),
        ("voortraject", sa.Text(), False),
        ("insufficient_because", sa.Text(), False),
        ("contact_person", sa.String(length=120), False),
        ("outcome_reason", sa.Text(), True),
        ("shelter", sa.String(length=200), True),
    ],
    "votes": [("steps_text", sa.Text(), True)],
    "decisions": [
        ("q2_text", sa.Text(), True),
        ("deviation_reason", sa.Text(), True),
        ("reopen_reason", sa.Text(), True),
    ],
    "feedback": [("text", sa.Text(), False)],
    "reminders": [("postpone_reason", sa.Text(), True)],
}
KEY_FILE = Path("var") / "secret.key"


def _secret_key() -> str | None:
    given = context.config.attributes.get("secret_key") or os.environ.get("REGIEBOT_SECRET_KEY")
    if given:
        return str(given)
    if KEY_FILE.exists():
        return KEY_FILE.read_text().strip() or None
    return None


def _cipher(rows: int) -> PersonalDataCipher | None:
    """The bot's cipher; None when there is nothing to convert."""
    if rows == 0:
        return None
    key = _secret_key()
    if key is None:
        raise MigrationRefused(
            f"De database bevat {rows} rijen met vrije tekst die versleuteld moeten worden, maar "
            "er is geen sleutel. Zet REGIEBOT_SECRET_KEY (dezelfde sleutel als waarmee de bot "
            "draait) of zorg dat var/secret.key er staat, en voer 'regiebot db upgrade' opnieuw "
            "uit. Aan de vrije tekst is niets veranderd."
        )
    return PersonalDataCipher(key)


def _read(table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    """(id, value, …) of every row that has at least one value in `columns`."""
    bind = op.get_bind()
    present = " OR ".join(f"{c} IS NOT NULL" for c in columns)
    query = sa.text(f"SELECT id, {', '.join(columns)} FROM {table} WHERE {present}")
    return [tuple(row) for row in bind.execute(query)]


def _write(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    bind = op.get_bind()
    assignments = ", ".join(f"{c} = :{c}" for c in columns)
    statement = sa.text(f"UPDATE {table} SET {assignments} WHERE id = :id")
    bind.execute(statement, [{"id": row[0], **dict(zip(columns, row[1:], strict=True))}
                             for row in rows])


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    return str(value)


def _change_types(table: str, to_binary: bool) -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table(table) as batch:
        for column, old_type, nullable in FREE_TEXT[table]:
            binary: sa.types.TypeEngine[Any] = sa.LargeBinary()
            if to_binary:
                new_type, existing, using = binary, old_type, f"convert_to({column}, 'UTF8')"
            else:
                new_type, existing, using = old_type, binary, f"convert_from({column}, 'UTF8')"
            options: dict[str, Any] = {"postgresql_using": using} if dialect == "postgresql" else {}
            batch.alter_column(column, type_=new_type, existing_type=existing,
                               existing_nullable=nullable, **options)


def upgrade() -> None:
    plain = {table: _read(table, [c for c, _, _ in specs]) for table, specs in FREE_TEXT.items()}
    cipher = _cipher(sum(len(rows) for rows in plain.values()))
    for table, specs in FREE_TEXT.items():
        _change_types(table, to_binary=True)
        if cipher is None:
            continue
        columns = [c for c, _, _ in specs]
        _write(table, columns, [
            (row[0], *(cipher.encrypt_optional(_as_text(v)) for v in row[1:]))
            for row in plain[table]])
    _strip_besluitenlijsten()


def downgrade() -> None:
    sealed = {table: _read(table, [c for c, _, _ in specs]) for table, specs in FREE_TEXT.items()}
    cipher = _cipher(sum(len(rows) for rows in sealed.values()))
    for table, specs in FREE_TEXT.items():
        opened = [] if cipher is None else [
            (row[0], *(cipher.decrypt_optional(bytes(v) if v is not None else None)
                       for v in row[1:]))
            for row in sealed[table]]
        _change_types(table, to_binary=False)
        _write(table, [c for c, _, _ in specs], opened)


def _strip_besluitenlijsten() -> None:
    """Published decision lists keep structured facts only: whether there was a note or a
    departure from the majority, not what it said."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, besluitenlijst FROM meetings WHERE besluitenlijst IS NOT NULL")).all()
    for meeting_id, stored in rows:
        data = json.loads(stored) if isinstance(stored, str) else stored
        if not isinstance(data, dict):
            continue
        for row in data.get("besluiten") or []:
            if isinstance(row, dict):
                row["q2_toelichting"] = bool(row.pop("q2_tekst", None))
                row["afwijking"] = bool(row.get("afwijking"))
        bind.execute(sa.text("UPDATE meetings SET besluitenlijst = :data WHERE id = :id")
                     .bindparams(sa.bindparam("data", type_=sa.JSON())),
                     {"data": data, "id": meeting_id})
