"""Closing a case in Slack through the "Casus sluiten" modal: opened by `/regie sluit RT-…`
or by the button in the chair's App Home; refusals come back on the field itself."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from commands.context import Services
from store.models import Case
from tests.fakeslack import FakeSlack, SlackBot, all_text
from tests.helpers import file

REF = "RT-2026-0001"
REASON = "De regeling loopt goed en de huur wordt weer betaald."



async def the_case(services: Services) -> Case:
    async with services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.reference == REF))
        assert case is not None
        return case


async def in_uitvoering(services: Services) -> None:
    async with services.transaction() as session:
        case = await session.scalar(select(Case).where(Case.reference == REF))
        assert case is not None
        case.phase, case.casemanager_id, case.termijn = "in_uitvoering", "dirk", date(2027, 2, 24)


async def open_close_modal(slack_bot: SlackBot, fake: FakeSlack, user: str) -> dict[str, Any]:
    opened = len(fake.of("views.open"))
    status, _ = await slack_bot.slash(user, "/regie", f"sluit {REF.lower()}")
    assert status == 200
    await fake.wait_for("views.open", opened + 1)
    return fake.last_view("sluiten")


def accessories(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [b["accessory"] for b in view.get("blocks", []) if "accessory" in b]


async def home_of(slack_bot: SlackBot, fake: FakeSlack, user: str, event_id: str) -> dict[str, Any]:
    before = len(fake.of("views.publish"))
    await slack_bot.event({"type": "app_home_opened", "user": user, "channel": "D0X", "tab": "home",
                     "event_ts": "1790000000.2"}, event_id)
    published = await fake.wait_for("views.publish", before + 1)
    return dict(published[-1].args["view"])


async def test_chair_closes_through_the_modal(slack_bot: SlackBot, fake_slack: FakeSlack,
                                              services: Services) -> None:
    fake = fake_slack
    await file(services)  # a family with minor children: a protected household
    view = await open_close_modal(slack_bot, fake, "U0CARLA")
    assert [b.get("block_id") for b in view["blocks"] if b["type"] == "input"] == [
        "uitkomst", "reden", "opvang", "opvang_toelichting", "gemeld_bij", "gemeld_op"]
    assert view["title"]["text"] == "Casus sluiten"
    assert REF in view["private_metadata"]

    # never on the street: refused on the outcome field, the modal stays as typed
    _, answer = await slack_bot.submit("U0CARLA", view, {"uitkomst": "uitgezet_zonder_opvang",
                                                   "reden": REASON})
    assert answer["response_action"] == "errors", answer
    assert list(answer["errors"]) == ["uitkomst"]
    assert "nooit op straat" in answer["errors"]["uitkomst"]
    # "uitgezet met opvang" without the shelter: refused on the shelter field
    _, answer = await slack_bot.submit("U0CARLA", view, {"uitkomst": "uitgezet_met_opvang",
                                                   "reden": REASON})
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["opvang"]
    await fake.work_done()
    case = await the_case(services)
    assert case.phase != "gesloten" and case.outcome is None
    assert not fake.of("chat.postMessage")

    # a proper outcome closes the case; the corporation hears it in its channel
    _, answer = await slack_bot.submit("U0CARLA", view, {"uitkomst": "blijft_betalingsregeling",
                                                   "reden": REASON})
    assert answer["response_action"] == "update"
    assert "is afgesloten" in all_text(answer["view"])
    _, again = await slack_bot.submit("U0CARLA", view, {"uitkomst": "blijft_betalingsregeling",
                                                  "reden": REASON},
                                headers={"X-Slack-Retry-Num": "1"})
    assert again["response_action"] == "update"
    await fake.work_done()
    case = await the_case(services)
    assert case.phase == "gesloten" and case.outcome == "blijft_betalingsregeling"
    assert services.cipher.decrypt_optional(case.outcome_reason) == REASON
    to_talis = [c for c in fake.of("chat.postMessage") if c.args["channel"] == "C0TALIS"]
    assert len(to_talis) == 1
    assert REF in all_text(to_talis[0].args) and "betalingsregeling" in all_text(to_talis[0].args)
    assert "Jan Fictief" not in all_text(to_talis[0].args)
    # the chair's App Home is published again
    assert [c.args["user_id"] for c in fake.of("views.publish")] == ["U0CARLA"]


async def test_shelter_given_closes_with_shelter(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                 services: Services) -> None:
    await file(services)
    view = await open_close_modal(slack_bot, fake_slack, "U0CARLA")
    _, answer = await slack_bot.submit("U0CARLA", view, {"uitkomst": "uitgezet_met_opvang",
                                                   "reden": "Ontruiming ging door na het vonnis.",
                                                   "opvang": "crisisopvang"})
    assert answer["response_action"] == "update"
    case = await the_case(services)
    assert case.phase == "gesloten" and case.shelter_kind == "crisisopvang"


async def test_member_gets_the_refusal_in_the_modal(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                    services: Services) -> None:
    await file(services)
    view = await open_close_modal(slack_bot, fake_slack, "U0DIRK")
    _, answer = await slack_bot.submit("U0DIRK", view, {"uitkomst": "blijft_betalingsregeling",
                                                  "reden": REASON})
    assert answer["response_action"] == "update"
    assert "voorzitter" in all_text(answer["view"])
    assert (await the_case(services)).phase != "gesloten"


async def test_corporation_withdraws_its_melding(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                 services: Services) -> None:
    await file(services)
    view = await open_close_modal(slack_bot, fake_slack, "U0ANNA")
    _, answer = await slack_bot.submit("U0ANNA", view, {"uitkomst": "ingetrokken",
                                                  "reden": "De huurder heeft alles betaald."})
    assert answer["response_action"] == "update"
    assert (await the_case(services)).outcome == "ingetrokken"


async def test_typed_in_full_still_closes_and_usage_without_reference(
    slack_bot: SlackBot, fake_slack: FakeSlack, services: Services
) -> None:
    await file(services)
    _, text = await slack_bot.slash("U0CARLA", "/regie", "sluit")
    assert "/regie sluit RT-2026-0001" in text and "formulier" in text
    before = len(fake_slack.of("response_url"))
    await slack_bot.slash("U0CARLA", "/regie", f"sluit {REF} blijft_betalingsregeling {REASON}")
    await fake_slack.wait_for("response_url", before + 1)
    await fake_slack.work_done()
    assert not fake_slack.of("views.open")
    assert (await the_case(services)).phase == "gesloten"


async def test_button_in_the_chairs_app_home(slack_bot: SlackBot, fake_slack: FakeSlack,
                                             services: Services) -> None:
    fake = fake_slack
    await file(services)
    home = await home_of(slack_bot, fake, "U0CARLA", "EvHome1")
    assert "geen casussen in uitvoering" in all_text(home) and not accessories(home)

    await in_uitvoering(services)
    home = await home_of(slack_bot, fake, "U0CARLA", "EvHome2")
    [button] = accessories(home)
    assert button["value"] == REF and button["text"]["text"] == "Casus sluiten"
    assert not accessories(await home_of(slack_bot, fake, "U0DIRK", "EvHome3"))  # a member: no button
    assert [b["value"] for b in accessories(await home_of(slack_bot, fake, "U0JOOST", "EvHome4"))] == [REF]
    assert not accessories(await home_of(slack_bot, fake, "U0GERRIT", "EvHome5"))  # chair of west

    await slack_bot.click("U0CARLA", button, channel="D0HOME")
    await fake.wait_for("views.open")
    view = fake.last_view("sluiten")
    published = len(fake.of("views.publish"))
    _, answer = await slack_bot.submit("U0CARLA", view, {"uitkomst": "verhuisd_andere_woonvorm",
                                                   "reden": "Verhuisd naar een kleinere woning."})
    assert answer["response_action"] == "update"
    refreshed = await fake.wait_for("views.publish", published + 1)
    assert not accessories(refreshed[-1].args["view"])
    await fake.work_done()
    assert (await the_case(services)).phase == "gesloten"
    assert [c for c in fake.of("chat.postMessage") if c.args["channel"] == "C0TALIS"]
