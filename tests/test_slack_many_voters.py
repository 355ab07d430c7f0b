"""Fifty members click a vote button at the same moment, over real signed HTTP requests: every
click is answered and stored, no request fails (no "database is locked"), and in the end the
case has one tally message whose latest version shows all fifty votes."""

from __future__ import annotations

import asyncio
import logging

import pytest
import yaml
from sqlalchemy import func, select

from commands.context import Services
from commands.organisation import Organisation, parse_organisation
from store.models import Vote
from tests.conftest import EXAMPLE_ORG
from tests.fakeslack import FakeSlack, SlackBot, all_text, button_named
from tests.helpers import file

VOTERS = 50
REF = "RT-2026-0001"


def voter(i: int) -> str:
    return f"U0VOTER{i:02d}"


@pytest.fixture
def org() -> Organisation:
    """The example organisation plus fifty voting members of Regieteam Oost."""
    data = yaml.safe_load(EXAMPLE_ORG.read_text(encoding="utf-8"))
    data["members"] += [
        {"id": f"stemmer{i:02d}", "name": f"Stemmer {i:02d}", "partner": "buurtteam",
         "roles": ["lid"], "regieteams": ["oost"], "slack_user": voter(i)}
        for i in range(VOTERS)]
    return parse_organisation(yaml.safe_dump(data, allow_unicode=True), "vijftig-stemmers")


async def test_fifty_votes_at_once_are_all_stored_and_shown_in_one_tally(
        slack_bot: SlackBot, fake_slack: FakeSlack, services: Services,
        caplog: pytest.LogCaptureFixture) -> None:
    await file(services)
    await slack_bot.slash("U0CARLA", "/agenda", "plaats", channel="C0REGIE")
    await fake_slack.work_done()
    opener = next(c for c in fake_slack.of("chat.postMessage") if "regie|stem|" in all_text(c.args))
    button = button_named(opener.args["blocks"], "stem", f"{REF}|q1|ja")
    caplog.set_level(logging.WARNING)

    answers = await asyncio.gather(*(slack_bot.click(voter(i), button) for i in range(VOTERS)))
    await fake_slack.work_done(within=60)

    assert [status for status, _ in answers] == [200] * VOTERS
    async with services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Vote)) == VOTERS
    tallies = [c for c in fake_slack.of("chat.postMessage", "chat.update")
               if f"Stemmen {REF}" in all_text(c.args)]
    assert len([c for c in tallies if c.method == "chat.postMessage"]) == 1  # one message, edited
    assert f"{VOTERS} van minimaal" in all_text(tallies[-1].args)
    assert len(tallies) < VOTERS  # quick votes are shown together, not one edit each
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR
                or "database is locked" in r.getMessage()]
    assert not problems, [r.getMessage() for r in problems]
