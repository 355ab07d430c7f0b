"""Teams' rate limits: a 429 from the connector is honoured with its Retry-After, per
conversation, a bounded number of times; then the delivery fails (the outbox tries later)."""

from __future__ import annotations

import asyncio
import email.utils
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from bot.teams import TeamsAdapter
from bot.teams.courier import MAX_ATTEMPTS, MAX_RETRY_AFTER, retry_after
from commands.context import Services
from commands.courier import DeliveryFailed
from commands.organisation import Organisation, parse_organisation
from commands.replies import Destination, Message, Outgoing
from tests.conftest import EXAMPLE_ORG
from tests.faketeams import FakeTeams, fake_teams, teams_bot, teams_deliveries
from tests.helpers import file

__all__ = ["fake_teams", "teams_bot", "teams_deliveries"]  # fixtures

TEAM = "19:regieteam-team@thread.tacv2"
OOST = "19:oost-kanaal@thread.tacv2"


@pytest.fixture
def org() -> Organisation:
    data = yaml.safe_load(EXAMPLE_ORG.read_text())
    data["regieteams"][0]["teams_channel"] = {"team": TEAM, "channel": OOST}
    for entry in data["members"]:
        if entry["id"] == "carla":
            entry["teams_user"] = "29:carla"
    return parse_organisation(yaml.safe_dump(data))


class Pauses:
    """Stands in for asyncio.sleep in the courier: records each wait; `hold()` makes the waits
    block until `release()`."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.asked = asyncio.Event()
        self.gate: asyncio.Event | None = None

    def hold(self) -> None:
        self.gate = asyncio.Event()

    def release(self) -> None:
        assert self.gate is not None
        self.gate.set()

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.asked.set()
        if self.gate is not None:
            await self.gate.wait()


@pytest.fixture
def pauses(teams_bot: TeamsAdapter) -> Pauses:
    pauses = Pauses()
    teams_bot.courier.sleep = pauses
    return pauses


async def announcement(services: Services) -> Outgoing:
    result = await file(services, "anna")
    return next(o for o in result.outgoing if o.to.kind == "regieteam")


async def test_a_429_is_waited_out_as_retry_after_says_and_then_delivered(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, pauses: Pauses
) -> None:
    item = await announcement(services)
    fake_teams.rate_limit(2, "7", where=OOST)
    await teams_bot.courier.deliver(item)
    assert [c.status for c in fake_teams.calls] == [429, 429, 200]
    assert len(pauses.waits) == 2 and all(6.5 < wait <= 7 for wait in pauses.waits)
    # accepted: the next post in the channel does not wait
    await teams_bot.courier.deliver(item)
    assert len(pauses.waits) == 2 and fake_teams.calls[-1].status == 200


async def test_a_conversation_that_keeps_answering_429_fails_after_a_bounded_number_of_tries(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, pauses: Pauses
) -> None:
    item = await announcement(services)
    fake_teams.rate_limit(100, "2", where=OOST)
    with pytest.raises(DeliveryFailed):
        await teams_bot.courier.deliver(item)
    assert [c.status for c in fake_teams.calls] == [429] * MAX_ATTEMPTS
    assert len(pauses.waits) == MAX_ATTEMPTS - 1


async def test_a_retry_after_too_long_to_wait_here_is_left_to_the_outbox(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, pauses: Pauses
) -> None:
    item = await announcement(services)
    fake_teams.rate_limit(1, str(int(MAX_RETRY_AFTER) + 1), where=OOST)
    with pytest.raises(DeliveryFailed):
        await teams_bot.courier.deliver(item)
    assert len(fake_teams.calls) == 1 and pauses.waits == []


async def test_other_conversations_go_on_while_one_waits(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, pauses: Pauses
) -> None:
    item = await announcement(services)
    fake_teams.rate_limit(1, "30", where=OOST)
    pauses.hold()
    waiting = asyncio.create_task(teams_bot.courier.deliver(item))
    async with asyncio.timeout(10):
        await pauses.asked.wait()
    # the chair's 1:1 chat is another conversation: delivered at once
    await teams_bot.courier.deliver(Outgoing(Destination("member", "carla"),
                                             Message("algemeen/prive_gestuurd")))
    assert fake_teams.calls[-1].conversation == "a:1on1-29:carla"
    assert not waiting.done()
    pauses.release()
    await waiting
    assert fake_teams.calls[-1].status == 200
    assert fake_teams.calls[-1].body["channelData"]["channel"]["id"] == OOST


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after({"Retry-After": "3"}) == 3.0
    assert retry_after({"Retry-After": "1.5"}) == 1.5
    assert retry_after({}) == 1.0
    assert retry_after({"Retry-After": "onzin"}) == 1.0
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    assert 15 < retry_after({"Retry-After": later}) <= 20
