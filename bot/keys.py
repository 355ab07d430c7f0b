"""Opening the bot's key: never a new key next to data encrypted with an old one.

Every entry point that opens the database (`regiebot run`, `console`, `demo`, the privacy
commands, …) gets its cipher here:

- with encrypted data stored but no key configured (REGIEBOT_SECRET_KEY empty and no
  `var/secret.key`), the bot refuses to start and says how to restore the key;
- with a key that cannot read the check row (or, in a database from before the check row,
  the stored data), it refuses to start;
- only an empty database gets a newly generated local key, and then the check row.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import VAR_DIR, Settings, SettingsError
from commands.context import system_clock
from messages.render import renderer
from store.crypto import InvalidKey, PersonalDataCipher
from store.db import owner_only_dir
from store.keycheck import KeyProblem, KeyRefused, check_key, encrypted_data_exists


def _refusal(template: str, **data: object) -> SettingsError:
    return SettingsError(renderer("plain").text(f"privacy/{template}", **data))


async def open_cipher(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> PersonalDataCipher:
    """The cipher for this database, after the key check; raises SettingsError with what to do."""
    if VAR_DIR.exists():
        owner_only_dir(VAR_DIR)
    try:
        return await _checked_cipher(settings, sessions)
    except KeyRefused as refused:
        template = "sleutel_ontbreekt" if refused.problem is KeyProblem.MISSING else "sleutel_past_niet"
        raise _refusal(template, bestand=VAR_DIR / "secret.key") from None
    except InvalidKey:
        raise _refusal("sleutel_ongeldig") from None
    except DBAPIError as exc:
        raise _refusal("database_niet_klaar", fout=type(exc.orig).__name__) from None


async def _checked_cipher(settings: Settings,
                          sessions: async_sessionmaker[AsyncSession]) -> PersonalDataCipher:
    key = settings.configured_secret_key()
    if key is None:
        async with sessions() as session:
            if await encrypted_data_exists(session):
                raise KeyRefused(KeyProblem.MISSING)
        key = settings.new_secret_key()
    cipher = PersonalDataCipher(key)
    try:
        async with sessions() as session, session.begin():
            await check_key(session, cipher, system_clock())
    except IntegrityError:  # another process wrote the check row at the same moment
        async with sessions() as session, session.begin():
            await check_key(session, cipher, system_clock())
    return cipher
