"""The Teams door over real HTTP: tokens checked against a fake issuer's keys, text commands
answered in the conversation, announcements in the Regieteam channel, votes by Action.Submit
with the tally updated in place."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from bot.teams import TeamsAdapter
from commands import agenda
from commands.context import Services
from commands.organisation import Organisation, parse_organisation
from store.models import Vote
from tests.conftest import EXAMPLE_ORG, member
from tests.faketeams import Call, FakeTeams, fake_teams, new_key, teams_bot, teams_deliveries
from tests.helpers import file

OOST_CHANNEL = "19:oost-kanaal@thread.tacv2"
TEAM = "19:regieteam-team@thread.tacv2"
__all__ = ["fake_teams", "teams_bot", "teams_deliveries"]  # fixtures
USERS = {"anna": "29:anna", "carla": "29:carla", "dirk": "29:dirk", "eva": "29:eva"}


@pytest.fixture
def org() -> Organisation:
    data = yaml.safe_load(EXAMPLE_ORG.read_text())
    data["regieteams"][0]["teams_channel"] = {"team": TEAM, "channel": OOST_CHANNEL}
    for entry in data["members"]:
        if entry["id"] in USERS:
            entry["teams_user"] = USERS[entry["id"]]
    return parse_organisation(yaml.safe_dump(data))


def in_channel(fake: FakeTeams, user: str, text: str, **options: Any) -> dict[str, Any]:
    return fake.activity(user, text, conversation=f"{OOST_CHANNEL};messageid=1", kind="channel",
                         **options)


@pytest.mark.parametrize("token", [
    None, "nonsense", "expired", "wrong_audience", "other_key", "other_issuer", "other_service",
])
async def test_activities_without_a_valid_token_get_401_and_cause_nothing(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, token: str | None
) -> None:
    now = int(time.time())
    tokens = {
        None: None, "nonsense": "abc.def.ghi",
        "expired": fake_teams.token(exp=now - 3600, iat=now - 7200, nbf=now - 7200),
        "wrong_audience": fake_teams.token(aud="iemand-anders"),
        "other_key": fake_teams.token(key=new_key()),
        "other_issuer": fake_teams.token(iss="https://elders.example"),
        "other_service": fake_teams.token(serviceurl="https://elders.example"),
    }
    activity = fake_teams.activity(USERS["carla"], "help")
    assert await fake_teams.send(activity, token=tokens[token]) == 401
    tampered = fake_teams.token()
    head, body, signature = tampered.split(".")
    assert await fake_teams.send(activity, token=f"{head}.{body}x.{signature}") == 401
    assert fake_teams.calls == []
    assert fake_teams.issued == []  # the bot did not even ask for a token to answer


async def test_help_in_a_channel_is_answered_in_the_thread_when_the_bot_is_mentioned(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter
) -> None:
    assert await fake_teams.send(in_channel(fake_teams, USERS["carla"], "help")) == 200
    assert fake_teams.calls == []  # not addressed: nothing
    activity = in_channel(fake_teams, USERS["carla"], "help", mention=True)
    assert await fake_teams.send(activity) == 200
    answer = await fake_teams.next_call(lambda c: c.method == "POST")
    assert answer.conversation == f"{OOST_CHANNEL};messageid=1"
    assert answer.activity is None or answer.path.endswith(activity["id"])
    assert "Wat kan ik voor je doen?" in answer.text
    assert answer.body["textFormat"] == "xml"
    # a redelivered activity is not answered again
    assert await fake_teams.send(activity) == 200
    assert len(fake_teams.calls) == 1


async def test_a_stranger_hears_whom_to_ask(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter
) -> None:
    assert await fake_teams.send(fake_teams.activity("29:onbekend", "help")) == 200
    answer = await fake_teams.next_call(lambda c: True)
    assert "nog niet in de lijst" in answer.text


async def test_status_in_1on1_works_by_entra_object_id(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter
) -> None:
    """(User text shown literally, without mentions: tests/test_teams_mentions.py.)"""
    filed = await file(services, "anna")
    reference = filed.value
    # found by the Entra object id as well as by the Teams user id
    activity = fake_teams.activity("29:iets-anders", f"status {reference}", aad=USERS["carla"])
    assert await fake_teams.send(activity) == 200
    answer = await fake_teams.next_call(lambda c: reference in c.text)
    assert "<at>" not in answer.text and "entities" not in answer.body


async def test_a_melding_is_announced_in_the_regieteam_channel_without_personal_data(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter
) -> None:
    result = await file(services, "anna")
    await teams_bot.deliveries.send(services, result.outgoing)
    post = await fake_teams.next_call(lambda c: c.path == "/v3/conversations"
                                      and result.value in c.text)
    assert post.body["channelData"]["channel"]["id"] == OOST_CHANNEL
    assert post.body["isGroup"] is True
    for personal in ("Fictief", "Verzonnenstraat", "6511"):
        assert personal not in str(post.body)


async def test_votes_by_button_are_recorded_and_the_tally_is_updated_in_place(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter
) -> None:
    result = await file(services, "anna")
    reference = result.value
    carla = member(services.org, "carla")
    posted = await agenda.post_agenda(services, carla, "oost")
    await teams_bot.deliveries.send(services, posted.outgoing)
    case_post = await fake_teams.next_call(
        lambda c: c.path == "/v3/conversations" and any(b["data"].get("actie") == "stem"
                                                       for b in c.buttons))
    vote = next(b for b in case_post.buttons if b["data"]["actie"] == "stem"
                and b["data"]["waarde"].endswith("|q1|ja"))
    assert reference in vote["data"]["waarde"]

    def tally(call: Call) -> bool:
        return "Stemmen" in call.text and reference in call.text

    for name in ("carla", "dirk", "eva"):
        mark = fake_teams.mark()
        press = in_channel(fake_teams, USERS[name], "", value=vote["data"])
        assert await fake_teams.send(press) == 200
        await fake_teams.next_call(tally, after=mark)
    async with services.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Vote)) == 3
    first = next(c for c in fake_teams.calls if tally(c))
    assert first.method == "POST" and first.conversation is not None
    assert first.conversation.startswith(f"{OOST_CHANNEL};messageid=")  # in the case's thread
    updates = [c for c in fake_teams.calls if tally(c) and c.method == "PUT"]
    assert len(updates) == 2
    assert len({(c.conversation, c.activity) for c in updates}) == 1  # one message, updated
    assert updates[0].conversation == first.conversation
    assert "3 van minimaal 3" in fake_teams.texts[updates[-1].activity or ""]
