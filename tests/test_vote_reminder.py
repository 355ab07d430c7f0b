"""Before the meeting, members of the Regieteam who have not voted on a case of the posted
agenda get one private reminder listing those cases; those who voted get nothing."""

from __future__ import annotations

from commands import agenda, stemmen
from commands.context import Services
from commands.stemoproep import remind_non_voters, vote_reminder_moment
from messages.render import renderer
from tests.conftest import Clock, member
from tests.helpers import file
from tests.test_meeting_rules import at


async def test_only_members_who_did_not_vote_are_reminded(services: Services, clock: Clock) -> None:
    clock.set(at(11, 19, 10))
    first = str((await file(services)).value)
    second = str((await file(services)).value)
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    for question, choice in (("q1", "ja"), ("q3", "nee")):
        for case in (first, second):
            await stemmen.cast_vote(services, member(services.org, "carla"), case, question, choice)
    await stemmen.cast_vote(services, member(services.org, "dirk"), first, "q1", "ja")

    clock.set(at(11, 24, 8))  # two hours before the 10:00 meeting
    assert vote_reminder_moment(services, "oost") == at(11, 24, 8)
    sent = await remind_non_voters(services, "oost")
    by_member = {o.to.id: renderer("plain").render(o.message) for o in sent}
    # oost members with a vote: carla (voted on both), dirk (one), eva and fatima (none)
    assert set(by_member) == {"dirk", "eva", "fatima"}
    assert second in by_member["dirk"] and first not in by_member["dirk"]
    assert first in by_member["eva"] and second in by_member["eva"]
    assert "dinsdag 24 november 2026 om 10:00" in by_member["eva"]
    assert all(o.to.kind == "member" for o in sent)
    # once per meeting
    assert await remind_non_voters(services, "oost") == []


async def test_no_reminder_without_a_posted_agenda(services: Services, clock: Clock) -> None:
    clock.set(at(11, 19, 10))
    await file(services)
    clock.set(at(11, 24, 8))
    assert await remind_non_voters(services, "oost") == []
