"""Erasure of one household: personal data and free text go, the facts for the figures stay.

What goes: the encrypted name/address/postcode row, every free-text column in `FREE_TEXT`
(set to NULL, or a fixed marker where the column is required), the free text of the case in
published decision lists, and form drafts that mention the case or the household.
What stays: the reference, dates, choices, categories, amounts, outcome, votes' choices and
the history of who did what when, so that the evaluation figures do not change.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from store.crypto import DecryptionFailed, PersonalDataCipher
from store.models import AgendaItem, Case, FormDraft, Meeting
from store.sensitive import FREE_TEXT, PERSONAL_ROWS, erased_value

log = logging.getLogger(__name__)

# keys of a published besluitenlijst entry that hold typed text
BESLUITENLIJST_FREE_TEXT = ("q2_tekst", "afwijking", "reden", "toelichting")


async def erase_case(session: AsyncSession, case: Case, cipher: PersonalDataCipher,
                     household: Sequence[str], now: datetime) -> None:
    """Erase in the caller's transaction. `household`: the decrypted name, address and
    postcode, used to find form drafts that hold them."""
    for model in PERSONAL_ROWS:
        await session.execute(delete(model).where(model.__table__.c.case_id == case.id))
    for entry in FREE_TEXT:
        table = entry.table
        values = {table.c[name]: erased_value(table.c[name], cipher) for name in entry.columns}
        await session.execute(update(table).where(table.c[entry.case_column] == case.id)
                              .values(values).execution_options(synchronize_session=False))
    await _scrub_besluitenlijsten(session, case)
    await _delete_drafts(session, cipher, [case.reference, *household])
    await session.execute(update(Case).where(Case.id == case.id).values(erased_at=now)
                          .execution_options(synchronize_session=False))


async def _scrub_besluitenlijsten(session: AsyncSession, case: Case) -> None:
    meetings = (await session.scalars(
        select(Meeting).join(AgendaItem, AgendaItem.meeting_id == Meeting.id)
        .where(AgendaItem.case_id == case.id, Meeting.besluitenlijst.is_not(None)))).all()
    for meeting in meetings:
        data: dict[str, Any] = json.loads(json.dumps(meeting.besluitenlijst))
        for entry in data.get("besluiten", []):
            if isinstance(entry, dict) and entry.get("referentie") == case.reference:
                for key in BESLUITENLIJST_FREE_TEXT:
                    if key in entry:
                        entry[key] = None
        meeting.besluitenlijst = data


async def _delete_drafts(session: AsyncSession, cipher: PersonalDataCipher,
                         needles: Sequence[str]) -> None:
    wanted = [needle.lower() for needle in needles if needle]
    rows = (await session.execute(select(FormDraft.key, FormDraft.data))).all()
    for key, token in rows:
        try:
            content = cipher.decrypt(token).lower()
        except DecryptionFailed:
            continue
        if any(needle in content for needle in wanted):
            await session.execute(delete(FormDraft).where(FormDraft.key == key))


async def reclaim_space(engine: AsyncEngine) -> bool:
    """Make sure erased values do not linger in free pages or the write-ahead log.
    Returns False when the database was too busy to compact (then it runs again next time;
    SQLite's secure_delete has already overwritten the values)."""
    try:
        async with engine.connect() as connection:
            auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "sqlite":
                await auto.exec_driver_sql("VACUUM")
                await auto.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                tables = {entry.table.name for entry in FREE_TEXT}
                tables |= {"case_personal_data", "form_drafts", "meetings"}
                for table in sorted(tables):
                    with contextlib.suppress(DBAPIError):
                        await auto.exec_driver_sql(f'VACUUM "{table}"')
    except DBAPIError as exc:
        log.warning("database niet opgeruimd na wissen (%s)", type(exc).__name__)
        return False
    return True
