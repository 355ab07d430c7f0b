"""The reminders follow the real commands: filing, the decision, the appointment, feedback
and closing each call `sync_case_reminders` in their own transaction."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from commands.actions import known_actions, perform
from commands.agenda import build
from commands.besluit import record_decision
from commands.casemanager import appoint
from commands.context import Services
from commands.organisation import Organisation
from commands.reminders import dispatch_due, mark_done
from commands.sluiten import close_case
from commands.stemmen import cast_vote
from commands.terugkoppeling import give_feedback
from store.models import Event, NazorgCheck
from tests.conftest import Clock, member
from tests.helpers import file
from tests.reminders_support import FakeCourier, ams, deliveries_with, reminders_of

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


async def test_reminders_follow_the_case_through_the_commands(
        services: Services, clock: Clock, org: Organisation) -> None:
    assert {"herinnering_ontvangen", "herinnering_gedaan", "herinnering_uitstellen",
            "terugkoppeling_geven", "nazorg_beantwoorden"} <= known_actions()
    courier = FakeCourier()
    deliveries = deliveries_with(courier)

    async def at(moment: datetime) -> list[tuple[str, str]]:
        clock.set(moment)
        await dispatch_due(services, deliveries, "flow")
        return courier.take()

    reference = (await file(services, zitting="4 december 2026")).value
    assert await at(ams(2026, 11, 24, 8, 1)) == [("carla", "herinnering/spoed")]

    await build(services, "oost", date(2026, 11, 24))
    for voter in ("carla", "dirk", "fatima"):
        await cast_vote(services, member(org, voter), reference, "q1", "ja")
        await cast_vote(services, member(org, voter), reference, "q3", "ja")
    clock.set(ams(2026, 11, 24, 10, 30))
    await record_decision(services, member(org, "carla"), reference)
    assert await at(ams(2026, 11, 24, 10, 31)) == [("mbz", "herinnering/mbz")]

    await appoint(services, member(org, "carla"), reference, "dirk", "22-12-2026", 4)
    [mbz] = [r for r in await reminders_of(services) if r.kind == "mbz" and r.sent_at]
    await mark_done(services, member(org, "fatima"), str(mbz.id))

    assert await at(ams(2026, 12, 15, 9)) == [
        ("buurtteam", "herinnering/termijn"), ("dirk", "herinnering/termijn")]
    [channel] = [r for r in await reminders_of(services)
                 if r.target_partner_id == "buurtteam" and r.sent_at]
    # a Buurtteam colleague presses "Ontvangen" (through the button registry, as adapters do)
    await perform(services, member(org, "ilse"), "herinnering_ontvangen", str(channel.id))
    assert await at(ams(2026, 12, 22, 9)) == [
        ("buurtteam", "herinnering/termijn"), ("dirk", "herinnering/termijn"),
        ("dirk", "herinnering/terugkoppeling")]
    clock.set(ams(2026, 12, 23, 11))
    await give_feedback(services, member(org, "dirk"), reference, "Het plan loopt, huur is betaald.")
    rows = await reminders_of(services)
    assert any(r.kind == "terugkoppeling" and r.cancel_reason == "beantwoord" for r in rows)
    assert ("dirk", "herinnering/terugkoppeling") not in await at(ams(2026, 12, 29, 9))

    clock.set(ams(2027, 1, 4, 15))
    await close_case(services, member(org, "carla"), reference, "blijft_betalingsregeling",
                     "De betalingsregeling loopt goed.")
    assert await at(ams(2027, 1, 19, 9)) == []  # no more termijn or terugkoppeling
    async with services.transaction() as session:
        months = (await session.scalars(select(NazorgCheck.months))).all()
        kinds = set((await session.scalars(select(Event.kind))).all())
    assert sorted(months) == [3, 6, 12]
    assert {"reminder_sent", "reminder_done"} <= kinds
    assert await at(ams(2027, 4, 4, 9)) == [("talis", "herinnering/nazorg")]
