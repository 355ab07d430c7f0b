"""The weekly digest for the coordinator (today: Tuesday 24 November 2026)."""

from __future__ import annotations

from commands.context import Services
from commands.digest import weekly_digest
from commands.replies import Destination
from messages.render import renderer
from tests.status_builders import Rows, no_personal_data, utc
from tests.test_status_overview import build_open_cases


async def test_digest_goes_to_each_coordinator_privately(services: Services) -> None:
    ref = await build_open_cases(services)
    async with services.transaction() as session:
        rows = Rows(services, session)
        recent = await rows.case(team="oost", filed_at=utc(2026, 11, 19), phase="besloten")
        await rows.decision(recent, utc(2026, 11, 20), superseded_at=utc(2026, 11, 21))
        await rows.decision(recent, utc(2026, 11, 22), q1="twijfel")
        old = await rows.case(team="west", filed_at=utc(2026, 10, 1), phase="besloten")
        await rows.decision(old, utc(2026, 10, 6))
    outgoing = await weekly_digest(services)
    assert [o.to for o in outgoing] == [Destination("member", "joost")]
    data = outgoing[0].message.data
    # filed since Tuesday 17 Nov 08:00: s1, s2, s3, s9 and the recent case
    assert {c["referentie"] for c in data["nieuw"]["casussen"]} == {
        ref["s1"], ref["s2"], ref["s3"], ref["s9"], recent.reference}
    # decisions this week that still stand: only the one that replaced the reopened decision
    assert data["besluiten"]["totaal"] == 1
    assert data["besluiten"]["casussen"][0]["q1"] == "twijfel"
    assert [c["referentie"] for c in data["termijn_verlopen"]["casussen"]] == [ref["s5"]]
    assert [c["referentie"] for c in data["terugkoppeling_te_laat"]["casussen"]] == [ref["s6"]]
    assert data["bevestigingen"]["totaal"] == 2
    # court or eviction dates within 14 days (up to 8 Dec): s1 (1 Dec); s2's eviction is 10 Dec
    assert [c["referentie"] for c in data["zittingen"]["casussen"]] == [ref["s1"]]
    for fmt in ("plain", "mrkdwn", "html"):
        text = renderer(fmt).render(outgoing[0].message)
        assert no_personal_data(text)
        assert "Weekoverzicht" in text
        assert ref["s5"] in text


async def test_no_coordinator_no_digest(services: Services) -> None:
    services.org = services.org.model_copy(update={"members": tuple(
        m for m in services.org.members if not m.has_role("coordinator"))})
    assert await weekly_digest(services) == []
