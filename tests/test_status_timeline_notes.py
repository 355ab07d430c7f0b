"""The case timeline as Dispatch keeps it: the steps each q2 vote chose, every view of personal
data, and private notes that entitled members add (encrypted, audited)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from commands import agenda, gegevens, stemmen
from commands.audit import record_delivered
from commands.context import Services
from commands.notities import add_note
from commands.replies import CommandRefused
from commands.status import case_timeline
from messages.render import renderer
from store.models import CaseNote, Event
from tests.conftest import Clock, member
from tests.helpers import file
from tests.test_meeting_rules import at


def plain(message: object) -> str:
    return renderer("plain").render(message)  # type: ignore[arg-type]


async def agenda_case(services: Services, clock: Clock) -> str:
    clock.set(at(11, 19, 10))
    ref = str((await file(services)).value)
    await agenda.post_agenda(services, member(services.org, "carla"), "oost")
    return ref


async def test_q2_steps_and_views_are_on_the_timeline(services: Services, clock: Clock) -> None:
    ref = await agenda_case(services, clock)
    await stemmen.cast_vote(services, member(services.org, "dirk"), ref, "q2",
                            steps=["schuldhulpverlening", "huisbezoek"])
    shown = await gegevens.show_personal_data(services.asked("slack", "toon_gegevens"),
                                              member(services.org, "carla"), ref)
    await record_delivered(services, shown.replies[0])
    timeline = await case_timeline(services, member(services.org, "joost"), ref)
    text = plain(timeline.replies[0])
    assert 'Dirk Visser stemt op "' in text and "schuldhulpverlening, huisbezoek" in text
    assert "Carla Smit bekeek naam, adres en postcode via Slack" in text


async def test_entitled_member_adds_a_private_note(services: Services, clock: Clock) -> None:
    ref = await agenda_case(services, clock)
    dirk = member(services.org, "dirk")
    added = await add_note(services, dirk, ref, "Afspraak met de schuldhulp staat op vrijdag.")
    assert "Je notitie staat bij" in plain(added.replies[0])
    async with services.transaction() as session:
        note = await session.scalar(select(CaseNote))
        assert note is not None and b"vrijdag" not in note.text  # encrypted at rest
        written = await session.scalar(select(Event).where(Event.kind == "note_added"))
        assert written is not None and written.actor_id == "dirk" and not written.data

    timeline = await case_timeline(services, member(services.org, "fatima"), ref)
    assert "notitie van Dirk Visser" in plain(timeline.replies[0])
    assert "vrijdag" not in plain(timeline.replies[0])
    private = timeline.replies[-1]
    assert private.personal and "Afspraak met de schuldhulp staat op vrijdag." in plain(private)
    assert private.view is not None and private.view.what == "toelichting"

    wendy = member(services.org, "wendy")  # melder at another corporation
    with pytest.raises(CommandRefused) as refused:
        await add_note(services, wendy, ref, "Ik weet er meer van.")
    assert refused.value.message.template == "fout/geen_recht_notitie"
    async with services.transaction() as session:
        refusal = await session.scalar(select(Event).where(Event.kind == "personal_data_refused"))
        assert refusal is not None and refusal.actor_id == "wendy"


async def test_a_note_follows_the_free_text_rules(services: Services, clock: Clock) -> None:
    ref = await agenda_case(services, clock)
    with pytest.raises(CommandRefused) as refused:
        await add_note(services, member(services.org, "dirk"), ref, "Bel 0612345678 terug.")
    assert "notitie" in str(refused.value.message.data.get("veld"))
