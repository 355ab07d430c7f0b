"""The audit over Telegram (updates fed by the fake Bot API server): views are recorded with
door and purpose once the private message arrived, a blocked private chat records nothing,
and `/audit` typed in a group sends the CSV to the coordinator's private chat only."""

from __future__ import annotations

import asyncio
import csv
import io
import time

import pytest
from sqlalchemy import select

from bot.telegram import TelegramAdapter
from commands import audit
from commands.context import Services
from store.models import Event
from tests.conftest import member
from tests.faketelegram import FakeTelegram
from tests.helpers import file

TENANT = "Jan Fictief"
ANNA, CARLA, JOOST = 5001, 5003, 5010  # melder, chair of Oost, coordinator
OOST = -1001002


@pytest.fixture
def telegram_forums() -> tuple[int, ...]:
    return (OOST,)


async def events_of(services: Services, kind: str) -> list[Event]:
    async with services.sessions() as session:
        return list((await session.scalars(
            select(Event).where(Event.kind == kind).order_by(Event.id))).all())


async def wait_for_events(services: Services, kind: str, count: int) -> list[Event]:
    """The adapter records a view just after Telegram accepted the message: wait for that row."""
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        found = await events_of(services, kind)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"{kind}: expected {count} events, found {len(found)}")


async def test_telegram_views_failed_delivery_and_private_export(
    services: Services, fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter
) -> None:
    ref = (await file(services)).value

    # a chair who never started a private chat asks in the group: nothing shown, nothing recorded
    fake_telegram.forbidden.add(CARLA)
    mark = fake_telegram.mark()
    fake_telegram.send_text(CARLA, f"/gegevens {ref}", chat_id=OOST)
    await fake_telegram.next_call("sendMessage", OOST, after=mark, contains="nog geen chat")
    assert not any(TENANT in text for text in fake_telegram.texts(OOST))
    assert await events_of(services, audit.VIEWED) == []
    fake_telegram.forbidden.discard(CARLA)

    # views in the private chat: a command, the case timeline, a button
    mark = fake_telegram.mark()
    fake_telegram.send_text(ANNA, f"/gegevens {ref}")
    await fake_telegram.next_call("sendMessage", ANNA, after=mark, contains=TENANT)
    mark = fake_telegram.mark()
    fake_telegram.send_text(JOOST, f"/status {ref}")
    await fake_telegram.next_call("sendMessage", JOOST, after=mark, contains=TENANT)
    mark = fake_telegram.mark()
    fake_telegram.send_text(CARLA, "/help")
    help_message = await fake_telegram.next_call("sendMessage", CARLA, after=mark)
    fake_telegram.queue(fake_telegram.callback_update(CARLA, fake_telegram.message_of(help_message),
                                    f"a|toon_gegevens|{ref}"))
    await fake_telegram.next_call("sendMessage", CARLA, after=mark, contains=TENANT)

    views = await wait_for_events(services, audit.VIEWED, 3)
    assert sorted((v.actor_id, v.data["deur"], v.data["doel"]) for v in views) == [
        ("anna", "telegram", "/gegevens"), ("carla", "telegram", "knop toon_gegevens"),
        ("joost", "telegram", "/status")]
    assert not any(TENANT in text for text in fake_telegram.texts(OOST))

    # the coordinator asks for the audit in the group: the file goes to the private chat only
    mark = fake_telegram.mark()
    fake_telegram.send_text(JOOST, f"/audit {ref}", chat_id=OOST)
    document = await fake_telegram.next_call("sendDocument", JOOST, after=mark)
    assert document.params["document"]["filename"] == f"audit_{ref}.csv"
    await fake_telegram.next_call("sendMessage", OOST, after=mark, contains="privé")
    assert not fake_telegram.sent("sendDocument", OOST)
    (exported,) = await events_of(services, audit.EXPORTED)
    assert exported.data["deur"] == "telegram" and exported.data["doel"] == "/audit"

    content = (await audit.export_audit(services, member(services.org, "joost"), ref)).files[0]
    rows = list(csv.DictReader(io.StringIO(content.content.decode())))
    assert [(r["gebeurtenis"], r["lid"], r["deur"], r["doel"]) for r in rows[1:]] == [
        (audit.VIEWED, "anna", "telegram", "/gegevens"),
        (audit.VIEWED, "joost", "telegram", "/status"),
        (audit.VIEWED, "carla", "telegram", "knop toon_gegevens"),
        (audit.EXPORTED, "joost", "telegram", "/audit")]
    assert rows[0]["gebeurtenis"] == "filed"


async def test_telegram_audit_is_for_the_coordinator_only(
    services: Services, fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter
) -> None:
    ref = (await file(services)).value
    mark = fake_telegram.mark()
    fake_telegram.send_text(CARLA, f"/audit {ref}")
    refusal = await fake_telegram.next_call("sendMessage", CARLA, after=mark)
    assert "coordinator" in refusal.text or "coördinator" in refusal.text
    assert not fake_telegram.sent("sendDocument")
    assert await events_of(services, audit.EXPORTED) == []
