"""The whole Regieteam flow in Microsoft Teams, over real HTTP with signed tokens against the
fake connector: the agenda with a post per case, votes from three members with the tally
updated in place, the chair's decision in its form (a card in 1:1), the casemanager appointed and told in 1:1, a reminder
in the partner channel answered with "Gedaan". A name typed into free text reaches no channel
post; personal data goes only to the 1:1 chat of the entitled."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from bot.teams import TeamsAdapter
from commands.context import Services
from commands.organisation import Organisation, parse_organisation
from commands.reminders import dispatch_due
from store.models import Case, Decision, Reminder, Vote
from tests.conftest import EXAMPLE_ORG, Clock, Database
from tests.faketeams import Call, FakeTeams, fake_teams, fill, teams_bot, teams_deliveries
from tests.free_text_support import FIRST, LAST, assert_not_stored, note
from tests.helpers import file
from tests.reminders_support import ams
from tests.test_log_safety import Capture, restore_logging, wide_open_log

__all__ = ["fake_teams", "restore_logging", "teams_bot", "teams_deliveries",
           "wide_open_log"]  # fixtures

TEAM = "19:regieteam-team@thread.tacv2"
OOST = "19:oost-kanaal@thread.tacv2"
MBZ_TEAM = "19:mbz-team@thread.tacv2"
MBZ = "19:mbz-kanaal@thread.tacv2"
USERS = {name: f"29:{name}" for name in ("anna", "bram", "carla", "dirk", "eva", "fatima")}
REF = "RT-2026-0001"


@pytest.fixture
def org() -> Organisation:
    data = yaml.safe_load(EXAMPLE_ORG.read_text())
    data["regieteams"][0]["teams_channel"] = {"team": TEAM, "channel": OOST}
    for partner in data["partners"]:
        if partner["id"] == "mbz":
            partner["teams_channel"] = {"team": MBZ_TEAM, "channel": MBZ}
    for entry in data["members"]:
        if entry["id"] in USERS:
            entry["teams_user"] = USERS[entry["id"]]
    return parse_organisation(yaml.safe_dump(data))


def in_channel(fake: FakeTeams, user: str, text: str = "", *, channel: str = OOST,
               root: str = "1", **options: Any) -> dict[str, Any]:
    return fake.activity(USERS[user], text, conversation=f"{channel};messageid={root}",
                         kind="channel", **options)


async def say(fake: FakeTeams, user: str, text: str, expect: str, **options: Any) -> Call:
    """@regiebot <text> in the Regieteam channel; the first call after it that holds `expect`."""
    mark = fake.mark()
    assert await fake.send(in_channel(fake, user, text, mention=True, **options)) == 200
    return await fake.next_call(lambda c: expect in c.text, after=mark)


async def press(fake: FakeTeams, user: str, button: dict[str, Any], expect: str, *,
                channel: str = OOST, root: str = "1") -> Call:
    mark = fake.mark()
    activity = in_channel(fake, user, channel=channel, root=root, value=button["data"])
    assert await fake.send(activity) == 200
    return await fake.next_call(lambda c: expect in c.text, after=mark)


def button(call: Call, action: str, value_end: str = "") -> dict[str, Any]:
    return next(b for b in call.buttons
                if b["data"]["actie"] == action and b["data"]["waarde"].endswith(value_end))


def in_a_channel(call: Call) -> bool:
    """A post in a team's channel (or in one of its threads), not a 1:1 chat."""
    if call.path == "/v3/conversations":
        return bool(call.body.get("isGroup"))
    return (call.conversation or "").startswith("19:")


async def count(services: Services, model: Any) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_whole_flow_in_teams(
    services: Services, fake_teams: FakeTeams, teams_bot: TeamsAdapter, clock: Clock,
    database: Database, wide_open_log: Capture,
) -> None:
    fake = fake_teams
    clock.set(ams(2026, 11, 19, 9))  # Thursday before the meeting
    filed = await file(services, "anna", voortraject=note("voortraject"))
    assert filed.value == REF
    await teams_bot.deliveries.send(services, filed.outgoing)
    announcement = await fake.next_call(lambda c: f"Nieuwe melding {REF}" in c.text)
    assert announcement.body["channelData"]["channel"]["id"] == OOST

    # the agenda: one channel post, and one post per case whose replies are its thread
    mark = fake.mark()
    await say(fake, "carla", "agenda plaats", "Agenda")
    case_post = await fake.next_call(
        lambda c: c.path == "/v3/conversations" and any(
            b["data"].get("actie") == "stem" for b in c.buttons), after=mark)
    assert REF in case_post.text
    assert case_post.body["channelData"]["channel"]["id"] == OOST
    posts = [c for c in fake.calls[mark:] if c.path == "/v3/conversations"]
    assert len(posts) >= 2  # the agenda itself and the case
    root = str(case_post.made)
    thread = f"{OOST};messageid={root}"

    # votes from three members, by button in the case's thread; the tally updated in place
    def tally(call: Call) -> bool:
        return "Stemmen" in call.text and REF in call.text

    for name in ("carla", "dirk", "fatima"):
        await press(fake, name, button(case_post, "stem", "|q1|ja"), "Stemmen", root=root)
        await press(fake, name, button(case_post, "stem", "|q3|ja"), "Stemmen", root=root)
    # a step chosen with a free text, typed as a text command
    await say(fake, "dirk", f"stem {REF} q2 huisbezoek {note('stappen_tekst')}", "Stemmen")
    assert await count(services, Vote) == 7
    tallies = [c for c in fake.calls if tally(c)]
    assert tallies[0].method == "POST" and tallies[0].conversation == thread
    assert {c.method for c in tallies[1:]} == {"PUT"}
    assert len({(c.conversation, c.activity) for c in tallies[1:]}) == 1
    assert "3 van minimaal 3" in fake.texts[tallies[-1].activity or ""]

    # the chair's decision: the button sends its form to the chair's 1:1 chat
    clock.set(ams(2026, 11, 24, 10, 30))
    mark = fake.mark()
    await press(fake, "carla", button(case_post, "besluit_vastleggen"), "privé", root=root)
    form = await fake.next_call(lambda c: c.card is not None, after=mark)
    assert form.conversation == f"a:1on1-{USERS['carla']}" and form.card is not None
    mark = fake.mark()
    submitted = fake.activity(USERS["carla"], conversation=form.conversation or "",
                              value=fill(form.card, {"q1": "ja", "q3": "ja",
                                                     "q2_tekst": note("besluit")}),
                              reply_to=form.made)
    assert await fake.send(submitted) == 200
    done = await fake.next_call(lambda c: c.method == "PUT" and c.activity == form.made,
                                after=mark)
    assert done.card is None and "besluit" in done.text.lower()
    assert await count(services, Decision) == 1
    offer = await fake.next_call(lambda c: any(
        b["data"].get("actie") == "casemanager_aanwijzen" for b in c.buttons), after=mark)
    assert offer.conversation == form.conversation

    # the casemanager, appointed by text command and told in the 1:1 chat
    mark = fake.mark()
    await say(fake, "carla", f"casemanager {REF} dirk 01-03-2027 4", "Dirk")
    opened = await fake.next_call(lambda c: c.path == "/v3/conversations"
                                  and not c.body.get("isGroup"), after=mark)
    assert opened.body["members"] == [{"id": USERS["dirk"]}]
    told = await fake.next_call(lambda c: c.conversation == f"a:1on1-{USERS['dirk']}"
                                and REF in c.text, after=mark)
    assert "casemanager" in told.text.lower()

    # a reminder for the Meldpunt, in its channel, answered there with "Gedaan"
    mark = fake.mark()
    clock.set(ams(2026, 11, 24, 10, 31))
    await dispatch_due(services, teams_bot.deliveries, "teams")
    reminder = await fake.next_call(lambda c: c.path == "/v3/conversations"
                                    and c.body["channelData"]["channel"]["id"] == MBZ, after=mark)
    assert REF in reminder.text
    done = button(reminder, "herinnering_gedaan")
    reminder_root = str(reminder.made)
    answer = await press(fake, "fatima", done, "", channel=MBZ, root=reminder_root)
    assert answer.conversation == f"{MBZ};messageid={reminder_root}"
    async with services.sessions() as session:
        row = await session.scalar(select(Reminder).where(Reminder.target_partner_id == "mbz"))
    assert row is not None and row.done_at is not None

    # personal data typed for in the channel goes to the 1:1 chat of the chair only
    mark = fake.mark()
    await say(fake, "carla", f"gegevens {REF}", "privé")
    data = await fake.next_call(lambda c: c.conversation == f"a:1on1-{USERS['carla']}"
                                and "Fictief" in c.text, after=mark)
    assert "Verzonnenstraat" in data.text
    mark = fake.mark()
    await say(fake, "carla", f"toelichting {REF}", "privé")
    private = await fake.next_call(lambda c: c.conversation == f"a:1on1-{USERS['carla']}"
                                   and "Toelichting" in c.text, after=mark)
    for field in ("voortraject", "stappen_tekst", "besluit"):
        assert note(field) in private.text, field
    # not for a member of another Regieteam and another corporation
    mark = fake.mark()
    assert await fake.send(fake.activity(USERS["bram"], f"toelichting {REF}",
                                         conversation=f"a:1on1-{USERS['bram']}")) == 200
    refusal = await fake.next_call(lambda c: True, after=mark)
    assert FIRST not in refusal.text and "toelichting" in refusal.text.lower()

    # nothing typed reached a channel post, a thread reply or an update there
    channel_calls = [c for c in fake.calls if in_a_channel(c)]
    assert len(channel_calls) > 10
    for call in channel_calls:
        for personal in (FIRST, LAST, "Fictief", "Verzonnenstraat"):
            assert personal not in str(call.body), (personal, call.path)
    assert_not_stored(database)
    for part in (FIRST, LAST):
        assert part.lower() not in wide_open_log.text.lower(), f"{part} in the log"
    async with services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.reference == REF))
    assert case is not None and case.casemanager_id == "dirk"
