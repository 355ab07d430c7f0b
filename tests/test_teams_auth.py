"""The bot's own token for the connector, through the Agents SDK's MSAL provider, against the
fake Entra ID authority over HTTPS on 127.0.0.1: asked for once by client credentials and then
taken from MSAL's cache; a wrong password is refused without a token."""

from __future__ import annotations

import pytest

from bot.teams import TeamsAdapter
from bot.teams.auth import BOT_FRAMEWORK_SCOPE, BotCredentials, TokenRejected, authority
from commands.context import Services
from tests.faketeams import APP_ID, APP_PASSWORD, TENANT, FakeTeams, fake_teams, teams_bot, teams_deliveries
from tests.helpers import file
from tests.test_teams_flow import USERS, org

__all__ = ["fake_teams", "org", "teams_bot", "teams_deliveries"]  # fixtures


def test_the_authority_follows_the_settings() -> None:
    assert authority(None, TENANT) == f"https://login.microsoftonline.com/{TENANT}"
    assert authority(None, None) == "https://login.microsoftonline.com/botframework.com"
    assert authority("https://login.microsoftonline.us/t/oauth2/v2.0/token", "t") \
        == "https://login.microsoftonline.us/t"
    assert authority("https://login.example/t/", None) == "https://login.example/t"


async def test_one_token_by_client_credentials_for_every_connector_call(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter
) -> None:
    fake = fake_teams
    result = await file(services, "anna")
    await teams_bot.deliveries.send(services, result.outgoing)
    await fake.next_call(lambda c: result.value in c.text)
    for _ in range(2):
        mark = fake.mark()
        assert await fake.send(fake.activity(USERS["carla"], "help")) == 200
        await fake.next_call(lambda c: True, after=mark)
    assert len(fake.calls) >= 3 and all(c.status == 200 for c in fake.calls)
    assert fake.issued == ["bot-token-1"]
    [asked] = fake.authority.requests
    assert asked["grant_type"] == "client_credentials" and asked["client_id"] == APP_ID
    assert asked["client_secret"] == APP_PASSWORD and asked["scope"] == BOT_FRAMEWORK_SCOPE


async def test_a_wrong_password_gets_no_token(fake_teams: FakeTeams) -> None:
    credentials = BotCredentials(fake_teams.authority.url, APP_ID, "niet-het-wachtwoord", TENANT)
    with pytest.raises(TokenRejected):
        await credentials.token()
    assert fake_teams.issued == [] and len(fake_teams.authority.requests) == 1
    good = BotCredentials(fake_teams.authority.url, APP_ID, APP_PASSWORD, TENANT)
    assert await good.token() == await good.token() == "bot-token-1"
