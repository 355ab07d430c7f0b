"""A Teams channel whose team does not have the app: the bot says once, in Dutch and without
secrets, what is missing and where (the log, the coordinators, the health check), and stops
saying it once a post there succeeds."""

from __future__ import annotations

import logging

import pytest
import yaml

from bot.teams import TeamsAdapter
from commands.context import Services
from commands.courier import DeliveryFailed
from commands.organisation import Organisation, parse_organisation
from tests.conftest import EXAMPLE_ORG
from tests.faketeams import APP_PASSWORD, FakeTeams, fake_teams, teams_bot, teams_deliveries
from tests.helpers import file

__all__ = ["fake_teams", "teams_bot", "teams_deliveries"]  # fixtures

TEAM = "19:regieteam-team@thread.tacv2"
OOST = "19:oost-kanaal@thread.tacv2"


@pytest.fixture
def org() -> Organisation:
    data = yaml.safe_load(EXAMPLE_ORG.read_text())
    data["regieteams"][0]["teams_channel"] = {"team": TEAM, "channel": OOST}
    for entry in data["members"]:
        if entry["id"] == "joost":  # the coordinator
            entry["teams_user"] = "29:joost"
    return parse_organisation(yaml.safe_dump(data))


@pytest.mark.parametrize("status", [403, 404])
async def test_a_team_without_the_app_is_reported_once_and_where(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter,
    caplog: pytest.LogCaptureFixture, status: int,
) -> None:
    item = next(o for o in (await file(services, "anna")).outgoing if o.to.kind == "regieteam")
    fake_teams.not_installed(OOST, status)
    caplog.set_level(logging.INFO)
    for _ in range(2):
        with pytest.raises(DeliveryFailed):
            await teams_bot.courier.deliver(item)
    said = [r.getMessage() for r in caplog.records if "staat niet in het team" in r.getMessage()]
    assert len(said) == 1
    assert "regieteam oost" in said[0] and TEAM in said[0] and OOST in said[0]
    for secret in (APP_PASSWORD, "bot-token"):
        assert secret not in caplog.text
    # the coordinator hears it once, in the 1:1 chat, with where to add the app
    told = [c for c in fake_teams.calls if c.conversation == "a:1on1-29:joost"]
    assert len(told) == 1
    assert "Regieteam Oost" in told[0].text and TEAM in told[0].text
    assert "Voeg de app toe" in told[0].text
    health = await teams_bot.probe()
    assert health["ok"] is True and len(health["app_ontbreekt"]) == 1
    assert "regieteam oost" in health["app_ontbreekt"][0]

    # installed: delivered, and no longer reported
    fake_teams.installed(OOST)
    await teams_bot.courier.deliver(item)
    assert (await teams_bot.probe())["app_ontbreekt"] == []
