"""The key check: a known value, encrypted at the first start, decrypted at every start.

A bot that starts with the wrong key (or a new one, after the old one was lost) would store
new data it can read next to old data it cannot. The check row stops that before anything
else happens.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.crypto import DecryptionFailed, PersonalDataCipher
from store.models import KeyCheck
from store.sensitive import encrypted_columns, raw_column

CHECK_ID = 1
KNOWN_VALUE = "regiebot-sleutelcontrole"


class KeyProblem(StrEnum):
    MISSING = "missing"  # encrypted data exists, but no key was given or found
    WRONG = "wrong"  # the key does not decrypt what is stored


class KeyRefused(Exception):
    def __init__(self, problem: KeyProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


async def encrypted_data_exists(session: AsyncSession) -> bool:
    """True when any row holds an encrypted value (the check row included)."""
    for entry in encrypted_columns():
        for name in entry.columns:
            column = entry.table.c[name]
            found = await session.scalar(
                select(literal(1)).select_from(entry.table).where(column.is_not(None)).limit(1))
            if found is not None:
                return True
    return False


async def _some_stored_token(session: AsyncSession) -> bytes | None:
    for entry in encrypted_columns():
        if entry.table.name == KeyCheck.__tablename__:
            continue
        for name in entry.columns:
            column = entry.table.c[name]
            token = await session.scalar(select(raw_column(column)).where(
                column.is_not(None), func.length(column) > 0).limit(1))
            if token:
                return bytes(token)
    return None


async def check_key(session: AsyncSession, cipher: PersonalDataCipher, now: datetime) -> bool:
    """Refuse a key that cannot read the check row (or, before there was one, the stored data).
    Writes the check row when there is none; returns True when it did."""
    row = await session.get(KeyCheck, CHECK_ID)
    if row is not None:
        _must_decrypt(cipher, row.token)
        return False
    token = await _some_stored_token(session)
    if token is not None:
        _must_decrypt(cipher, token, known=False)
    session.add(KeyCheck(id=CHECK_ID, token=cipher.encrypt(KNOWN_VALUE), created_at=now))
    return True


def _must_decrypt(cipher: PersonalDataCipher, token: bytes, *, known: bool = True) -> None:
    try:
        value = cipher.decrypt(token)
    except DecryptionFailed:
        raise KeyRefused(KeyProblem.WRONG) from None
    if known and value != KNOWN_VALUE:
        raise KeyRefused(KeyProblem.WRONG)
