"""A member's 1:1 chat with the bot is kept in the database: captured when they write to the
bot or install the app in their personal scope, it is used by another process or after a
restart (a new adapter over the same database) without asking Teams to open the chat again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml

from bot.delivery import Deliveries
from bot.teams import TeamsAdapter, create_teams
from bot.teams.chats import Conversation, load_chat
from commands import drafts, privacy
from commands.context import Services
from commands.organisation import Organisation, parse_organisation
from commands.replies import Destination, Message, Outgoing
from store.db import make_engine, make_sessionmaker
from tests.conftest import EXAMPLE_ORG, Clock, Database
from tests.faketeams import (
    APP_ID,
    FakeTeams,
    fake_teams,
    teams_bot,
    teams_deliveries,
    teams_settings,
)
from tests.test_privacy_duties import OPERATOR, closed_case

__all__ = ["fake_teams", "teams_bot", "teams_deliveries"]  # fixtures

# Teams' conversation ids are long (139 characters here: more than a key of form_drafts
# holds; the SDK trims ids over 150)
CARLA_CHAT = "a:1" + "Xq7-Zk_9" * 17
USERS = {"carla": "29:carla", "dirk": "29:dirk"}


@pytest.fixture
def org() -> Organisation:
    data = yaml.safe_load(EXAMPLE_ORG.read_text())
    for entry in data["members"]:
        if entry["id"] in USERS:
            entry["teams_user"] = USERS[entry["id"]]
    return parse_organisation(yaml.safe_dump(data))


@pytest.fixture
async def restarted(database: Database, services: Services,
                    fake_teams: FakeTeams) -> AsyncIterator[TeamsAdapter]:
    """The bot after a restart: a new process (its own engine) over the same database."""
    engine = make_engine(database.url)
    again = Services(sessions=make_sessionmaker(engine), org=services.org,
                     cipher=services.cipher, clock=services.clock)
    adapter = create_teams(again, teams_settings(fake_teams), Deliveries())
    yield adapter
    await adapter.stop()
    await engine.dispose()


def reminder_for(member_id: str) -> Outgoing:
    return Outgoing(Destination("member", member_id), Message("algemeen/prive_gestuurd"))


def opened_chats(fake: FakeTeams) -> list[Any]:
    return fake.sent(lambda c: c.method == "POST" and c.path == "/v3/conversations")


def install(fake: FakeTeams, user: str, kind: str, *, conversation: str,
            action: str = "add") -> dict[str, Any]:
    body = fake.activity(user, conversation=conversation)
    body.pop("text")
    body["type"] = kind
    if kind == "installationUpdate":
        body["action"] = action
    else:
        body["membersAdded" if action == "add" else "membersRemoved"] = [
            {"id": f"28:{APP_ID}"}]
    return body


async def test_a_chat_captured_before_a_restart_is_used_after_it(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter,
    restarted: TeamsAdapter,
) -> None:
    assert await fake_teams.send(fake_teams.activity(USERS["carla"], "help",
                                                     conversation=CARLA_CHAT)) == 200
    await fake_teams.next_call(lambda c: c.conversation == CARLA_CHAT)
    assert await load_chat(services, "carla") == Conversation(fake_teams.url, CARLA_CHAT)

    assert restarted.courier.personal == {}  # nothing in memory: only the database knows
    await restarted.courier.deliver(reminder_for("carla"))
    delivered = await fake_teams.next_call(lambda c: "privé gestuurd" in c.text)
    assert delivered.conversation == CARLA_CHAT
    assert opened_chats(fake_teams) == []


@pytest.mark.parametrize("kind", ["installationUpdate", "conversationUpdate"])
async def test_installing_the_app_in_personal_scope_captures_the_chat(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter,
    restarted: TeamsAdapter, kind: str,
) -> None:
    assert await fake_teams.send(install(fake_teams, USERS["carla"], kind,
                                         conversation=CARLA_CHAT)) == 200
    assert fake_teams.calls == []  # nothing said, only remembered
    assert await load_chat(services, "carla") == Conversation(fake_teams.url, CARLA_CHAT)

    await restarted.courier.deliver(reminder_for("carla"))
    delivered = await fake_teams.next_call(lambda c: "privé gestuurd" in c.text)
    assert delivered.conversation == CARLA_CHAT
    assert opened_chats(fake_teams) == []


async def test_an_install_in_a_team_is_no_members_chat(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter,
) -> None:
    body = install(fake_teams, USERS["carla"], "installationUpdate",
                   conversation="19:kanaal@thread.tacv2")
    body["conversation"]["conversationType"] = "channel"
    assert await fake_teams.send(body) == 200
    assert await load_chat(services, "carla") is None
    assert "carla" not in teams_bot.courier.personal


async def test_a_changed_chat_replaces_the_stored_one(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter,
    restarted: TeamsAdapter,
) -> None:
    assert await fake_teams.send(install(fake_teams, USERS["carla"], "installationUpdate",
                                         conversation=CARLA_CHAT)) == 200
    moved = fake_teams.activity(USERS["carla"], "help", conversation="a:1nieuw")
    moved["serviceUrl"] = fake_teams.url + "/"
    assert await fake_teams.send(moved) == 200
    await fake_teams.next_call(lambda c: c.conversation == "a:1nieuw")
    assert await load_chat(services, "carla") == Conversation(fake_teams.url + "/", "a:1nieuw")

    await restarted.courier.deliver(reminder_for("carla"))
    delivered = await fake_teams.next_call(lambda c: "privé gestuurd" in c.text)
    assert delivered.conversation == "a:1nieuw"


async def test_removing_the_app_forgets_the_chat(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter,
) -> None:
    assert await fake_teams.send(install(fake_teams, USERS["carla"], "installationUpdate",
                                         conversation=CARLA_CHAT)) == 200
    assert await fake_teams.send(install(fake_teams, USERS["carla"], "installationUpdate",
                                         conversation=CARLA_CHAT, action="remove")) == 200
    assert await load_chat(services, "carla") is None
    assert "carla" not in teams_bot.courier.personal


async def test_a_chat_opened_by_the_bot_is_stored_for_the_next_process(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter,
    restarted: TeamsAdapter,
) -> None:
    await teams_bot.courier.deliver(reminder_for("dirk"))
    await fake_teams.next_call(lambda c: "privé gestuurd" in c.text)
    assert len(opened_chats(fake_teams)) == 1
    assert await load_chat(services, "dirk") == Conversation(fake_teams.url, "a:1on1-29:dirk")

    await restarted.courier.deliver(reminder_for("dirk"))
    await fake_teams.wait_for(lambda: len(fake_teams.sent(lambda c: "privé gestuurd" in c.text)) == 2)
    assert len(opened_chats(fake_teams)) == 1  # not opened again


async def test_the_daily_clean_up_of_forms_keeps_the_chats(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, clock: Clock,
) -> None:
    assert await fake_teams.send(install(fake_teams, USERS["carla"], "installationUpdate",
                                         conversation=CARLA_CHAT)) == 200
    clock.advance(days=400)
    # what a door's clean-up drops: abandoned forms and conversations in progress
    await drafts.forget_abandoned_drafts(services, "teams", ("melding", "gesprek", "knop"))
    assert await load_chat(services, "carla") == Conversation(fake_teams.url, CARLA_CHAT)


async def test_erasing_a_household_keeps_the_chats(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, clock: Clock,
) -> None:
    assert await fake_teams.send(install(fake_teams, USERS["carla"], "installationUpdate",
                                         conversation=CARLA_CHAT)) == 200
    reference = await closed_case(services, clock)
    await privacy.forget_household(services, reference, OPERATOR, "verzoek betrokkene")
    assert await load_chat(services, "carla") == Conversation(fake_teams.url, CARLA_CHAT)
