"""Filing: sequential references under concurrency, idempotent retries, personal data encrypted."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from commands import audit, gegevens
from commands.context import Services
from commands.melding import file_melding
from commands.replies import CommandRefused
from messages.render import renderer
from store.models import Case, Event
from tests.conftest import Database, member
from tests.helpers import file, valid_answers

PERSONAL = ("Jan Fictief", "Verzonnenstraat", "6511 AB")


async def test_parallel_filings_get_distinct_sequential_references(services: Services) -> None:
    anna = member(services.org, "anna")
    results = await asyncio.gather(*(file_melding(services, anna, valid_answers()) for _ in range(50)))
    references = sorted(r.value for r in results)
    assert references == [f"RT-2026-{n:04d}" for n in range(1, 51)]


async def test_retried_submission_files_once(services: Services) -> None:
    anna = member(services.org, "anna")
    first = await file_melding(services, anna, valid_answers(), submission_key="slack:V123")
    again = await file_melding(services, anna, valid_answers(), submission_key="slack:V123")
    assert first.value == again.value and again.outgoing == []
    async with services.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == 1


async def test_personal_data_never_in_channels_or_logs(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = await file(services)
    for fmt in ("plain", "mrkdwn", "html"):
        for item in result.outgoing:
            posted = renderer(fmt).render(item.message)
            assert not any(p in posted for p in PERSONAL)
    assert not any(p in caplog.text for p in PERSONAL)


async def test_personal_data_encrypted_at_rest(services: Services, database: Database) -> None:
    await file(services)
    async with services.transaction() as session:
        rows = (await session.execute(text("SELECT * FROM case_personal_data"))).all()
    dump = repr(rows)
    assert rows and not any(p in dump for p in PERSONAL)
    if database.kind == "sqlite":
        files = Path(database.url.split("///", 1)[1]).parent.glob("regiebot.db*")
        raw = b"".join(path.read_bytes() for path in files)
        assert not any(p.encode() in raw for p in PERSONAL)


async def test_personal_data_only_for_the_entitled(services: Services) -> None:
    ref = (await file(services)).value
    for entitled in ("anna", "carla", "joost"):
        shown = await gegevens.show_personal_data(services, member(services.org, entitled), ref)
        assert shown.replies[0].personal
        assert "Jan Fictief" in renderer("plain").render(shown.replies[0])
        await audit.record_delivered(services, shown.replies[0])  # as an adapter does
    for refused in ("dirk", "wendy", "gerrit"):
        with pytest.raises(CommandRefused):
            await gegevens.show_personal_data(services, member(services.org, refused), ref)
    async with services.transaction() as session:
        kinds = (await session.scalars(select(Event.kind).where(Event.kind.like("personal_data%")))).all()
    assert sorted(kinds).count("personal_data_viewed") == 3
    assert sorted(kinds).count("personal_data_refused") == 3


async def test_database_errors_reach_logs_without_values(services: Services) -> None:
    import io

    from sqlalchemy.exc import IntegrityError

    from bot import logsafety
    from store.models import ProcessedRequest

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logsafety.install([handler])
    logger = logging.getLogger("regiebot.test.logsafety")
    logger.addHandler(handler)
    try:
        async with services.transaction() as session:
            session.add(ProcessedRequest(key="Jan Fictief", at=services.now()))
            await session.flush()
            session.add(ProcessedRequest(key="Jan Fictief", at=services.now()))
    except IntegrityError:
        logger.exception("opslaan mislukt")
    finally:
        logger.removeHandler(handler)
    logged = stream.getvalue()
    assert "IntegrityError" in logged and "test_melding_store.py" in logged
    assert "Jan Fictief" not in logged


async def test_confirmation_names_the_meeting(services: Services) -> None:
    """Filed on Tuesday 24 November at 08:00, before Oost's 10:00 meeting: that meeting; the
    retried submission says the same."""
    anna = member(services.org, "anna")
    filed = await file_melding(services, anna, valid_answers(), submission_key="k1")
    again = await file_melding(services, anna, valid_answers(), submission_key="k1")
    assert again.value == filed.value
    for result in (filed, again):
        text = renderer("plain").render(result.replies[0])
        assert "Regieteam Oost bespreekt hem in het overleg van dinsdag 24 november 2026." in text
