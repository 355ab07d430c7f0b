"""Key rotation: encrypt every stored value again with the first key.

Rows are handled in batches in primary-key order, each batch in its own transaction, so the
work can be interrupted at any moment and started again: a value already encrypted with the
first key is skipped. Afterwards the older keys can be removed from REGIEBOT_SECRET_KEY.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import LargeBinary, literal, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.crypto import PersonalDataCipher
from store.sensitive import EncryptedColumns, encrypted_columns, raw_column

BATCH = 200


@dataclass
class RotationReport:
    rotated: dict[str, int] = field(default_factory=dict)  # values re-encrypted, per table
    current: int = 0  # values that already had the first key

    @property
    def total(self) -> int:
        return sum(self.rotated.values())


async def rotate_keys(sessions: async_sessionmaker[AsyncSession], cipher: PersonalDataCipher,
                      batch: int = BATCH) -> RotationReport:
    report = RotationReport()
    for entry in encrypted_columns():
        report.rotated[entry.table.name] = 0
        last: tuple[Any, ...] | None = None
        while True:
            async with sessions() as session, session.begin():
                last, rotated, current, done = await _rotate_batch(session, cipher, entry, last,
                                                                   batch)
            report.rotated[entry.table.name] += rotated
            report.current += current
            if done:
                break
    return report


async def _rotate_batch(
    session: AsyncSession, cipher: PersonalDataCipher, entry: EncryptedColumns,
    after: tuple[Any, ...] | None, batch: int,
) -> tuple[tuple[Any, ...] | None, int, int, bool]:
    table = entry.table
    key = [table.c[name] for name in entry.key]
    values = [raw_column(table.c[name]) for name in entry.columns]
    query = select(*key, *values).order_by(*key).limit(batch)
    if after is not None:
        query = query.where(tuple_(*key) > tuple_(*after))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    rows = (await session.execute(query)).all()
    rotated = current = 0
    for row in rows:
        changes = {}
        for index, name in enumerate(entry.columns):
            token = row[len(key) + index]
            if not token:
                continue
            if cipher.encrypted_with_first_key(token):
                current += 1
                continue
            changes[name] = cipher.rotate(token)
        if changes:
            where = [column == row[i] for i, column in enumerate(key)]
            await session.execute(update(table).where(*where).values(
                {table.c[name]: _raw_value(value) for name, value in changes.items()}))
            rotated += len(changes)
    last = tuple(rows[-1][: len(key)]) if rows else after
    return last, rotated, current, len(rows) < batch


def _raw_value(value: bytes) -> Any:
    """Bound as plain bytes, also when the column type encrypts on writing."""
    return literal(value, LargeBinary())
