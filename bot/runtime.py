"""Build the bot's services from settings: database, organisation, cipher, clock."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.keys import open_cipher
from bot.orgconfig import Organisation, load_organisation
from bot.settings import Settings
from commands.context import Services
from store.db import make_engine, make_sessionmaker
from store.organisation import sync_organisation


async def build_services(settings: Settings, org: Organisation | None = None) -> Services:
    """Connect to the (already migrated) database and mirror the organisation into it."""
    org = org or load_organisation(settings.config)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    try:
        cipher = await open_cipher(settings, sessions)  # refuses a missing or wrong key
    except BaseException:
        await engine.dispose()
        raise
    services = Services(sessions=sessions, org=org, cipher=cipher,
                        timezone=ZoneInfo(settings.timezone))
    async with services.transaction() as session:
        await sync_organisation(session, org)
    return services


async def close_services(services: Services) -> None:
    bind = services.sessions.kw.get("bind")
    if bind is not None:
        await bind.dispose()
