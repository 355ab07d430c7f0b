"""The never-on-the-street rule on Slack and Telegram: the same refusals as in the core, for
typed commands and for the closing forms, also after a household correction and after
reopening the decision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.telegram import TelegramAdapter
from commands import agenda, besluit, stemmen
from commands.context import Services
from store.models import Case
from tests.conftest import Clock, member
from tests.fakeslack import FakeSlack, SlackBot, all_text
from tests.faketelegram import Call, FakeTelegram
from tests.helpers import file

REF = "RT-2026-0001"
REASON = "Het vonnis is uitgevoerd."
ANNA, CARLA, JOOST = 5001, 5003, 5010


def at(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour - 1, tzinfo=UTC)


async def the_case(services: Services) -> Case:
    async with services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.reference == REF))
        assert case is not None
        return case


async def decided_then_reopened(services: Services, clock: Clock) -> None:
    org = services.org
    carla = member(org, "carla")
    await agenda.post_agenda(services, carla, "oost")
    for voter in ("carla", "dirk", "eva"):
        await stemmen.cast_vote(services, member(org, voter), REF, "q1", "nee")
        await stemmen.cast_vote(services, member(org, voter), REF, "q3", "nee")
    clock.set(at(11, 24, 11))
    await besluit.record_decision(services, carla, REF)


# --- Slack -----------------------------------------------------------------------------------


async def slash_answer(slack_bot: SlackBot, fake: FakeSlack, user: str, text: str) -> str:
    before = len(fake.of("response_url"))
    status, body = await slack_bot.slash(user, "/regie", text, channel="C0REGIE")
    assert status == 200
    if body.strip():  # a typing mistake is answered in the acknowledgement itself
        return body
    answers = await fake.wait_for("response_url", before + 1)
    assert answers[-1].args["response_type"] == "ephemeral"
    return all_text(answers[-1].args)


async def posted_to(fake: FakeSlack, channel: str) -> list[Any]:
    """Wait for the first chat.postMessage to `channel`."""
    expected = 1
    while True:
        calls = await fake.wait_for("chat.postMessage", expected)
        found = [c for c in calls if c.args["channel"] == channel]
        if found:
            return found
        expected = len(calls) + 1


async def close_modal(slack_bot: SlackBot, fake: FakeSlack) -> dict[str, Any]:
    opened = len(fake.of("views.open"))
    await slack_bot.slash("U0CARLA", "/regie", f"sluit {REF}")
    await fake.wait_for("views.open", opened + 1)
    return fake.last_view("sluiten")


async def test_slack_door(slack_bot: SlackBot, fake_slack: FakeSlack, services: Services,
                          clock: Clock) -> None:
    fake = fake_slack
    clock.set(at(11, 19, 10))
    await file(services, huishouden=["woonoverlast"], minderjarige_kinderen="0")
    # typed in full: free words are not shelter (both the opvang= and the older opvang: form)
    for typed in ("opvang=nvt", "opvang=geen", "opvang: -", "opvang="):
        answer = await slash_answer(slack_bot, fake, "U0CARLA",
                                    f"sluit {REF} uitgezet_met_opvang {REASON} {typed}")
        assert "opvang" in answer and "is afgesloten" not in answer, answer
    # the corporation adds the children after filing: the household becomes protected
    answer = await slash_answer(slack_bot, fake, "U0ANNA",
                                f'huishouden {REF} categorieen=gezin_met_minderjarige_kinderen '
                                f'kinderen=2 reden="Bij het huisbezoek bleken er twee kinderen."')
    assert "huishouden gecorrigeerd" in answer
    answer = await slash_answer(slack_bot, fake, "U0CARLA", f"sluit {REF} uitgezet_zonder_opvang {REASON}")
    assert "nooit op straat" in answer
    answer = await slash_answer(slack_bot, fake, "U0CARLA", f"sluit {REF} vertrokken_onbekend {REASON}")
    assert "Jeugdbescherming" in answer

    # reopening the decision, then closing through the modal: the same rule
    await decided_then_reopened(services, clock)
    answer = await slash_answer(slack_bot, fake, "U0CARLA", f"heropen {REF} Nieuwe informatie van Talis.")
    assert "heropend" in answer.lower(), answer
    view = await close_modal(slack_bot, fake)
    _, answer = await slack_bot.submit("U0CARLA", view, {"uitkomst": "uitgezet_zonder_opvang",
                                                        "reden": REASON})
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["uitkomst"]
    _, answer = await slack_bot.submit("U0CARLA", view, {"uitkomst": "uitgezet_met_opvang",
                                                        "reden": REASON, "opvang_toelichting": "nvt"})
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["opvang"]
    _, answer = await slack_bot.submit("U0CARLA", view, {"uitkomst": "vertrokken_onbekend",
                                                        "reden": REASON})
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["gemeld_bij"]
    _, answer = await slack_bot.submit("U0CARLA", view, {"uitkomst": "vertrokken_onbekend",
                                                        "reden": REASON, "gemeld_bij": "mbz",
                                                        "gemeld_op": "2026-11-24"})
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["gemeld_bij"]
    assert (await the_case(services)).phase != "gesloten"

    _, answer = await slack_bot.submit("U0CARLA", view, {"uitkomst": "vertrokken_onbekend",
                                                        "reden": REASON,
                                                        "gemeld_bij": "jeugdbescherming",
                                                        "gemeld_op": "2026-11-24"})
    assert answer["response_action"] == "update", answer
    case = await the_case(services)
    assert case.phase == "gesloten" and case.reported_to == "jeugdbescherming"
    # the coordinator hears it at once in a direct message
    found = await posted_to(fake, "DU0JOOST")
    assert len(found) == 1 and REF in all_text(found[0].args)
    assert "Jeugdbescherming" in all_text(found[0].args)


async def test_slack_modal_shelter_choice(slack_bot: SlackBot, fake_slack: FakeSlack,
                                          services: Services) -> None:
    await file(services)
    view = await close_modal(slack_bot, fake_slack)
    shelter = next(b for b in view["blocks"] if b.get("block_id") == "opvang")
    values = [o["value"] for o in shelter["element"]["options"]]
    assert values == ["eigen_netwerk", "familie_vrienden", "crisisopvang", "maatschappelijke_opvang",
                      "andere_woonruimte", "zorginstelling"]
    _, answer = await slack_bot.submit("U0CARLA", view, {
        "uitkomst": "uitgezet_met_opvang", "reden": REASON, "opvang": "zorginstelling",
        "opvang_toelichting": "Verzonnenstraat 12 in Nijmegen, bel 06-12345678"})
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["opvang_toelichting"]
    _, answer = await slack_bot.submit("U0CARLA", view, {
        "uitkomst": "uitgezet_met_opvang", "reden": REASON, "opvang": "zorginstelling"})
    assert answer["response_action"] == "update"
    assert (await the_case(services)).shelter_kind == "zorginstelling"


async def test_slack_household_modal(slack_bot: SlackBot, fake_slack: FakeSlack,
                                     services: Services) -> None:
    fake = fake_slack
    await file(services, huishouden=["woonoverlast"], minderjarige_kinderen="0")
    await slack_bot.slash("U0ANNA", "/regie", f"huishouden {REF}")
    # opened at once, then completed with the household as recorded
    await fake.wait_for("views.update", 1)
    view = fake.last_view("huishouden")
    assert "woonoverlast" in all_text(view)
    _, answer = await slack_bot.submit("U0ANNA", view, {"huishouden": ["kwetsbaar"]})
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["reden"]
    _, answer = await slack_bot.submit("U0ANNA", view, {
        "huishouden": ["gezin_met_minderjarige_kinderen"], "kinderen": "0", "reden": "Kind erbij."})
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["kinderen"]
    _, answer = await slack_bot.submit("U0ANNA", view, {
        "huishouden": ["kwetsbaar"], "reden": "Kwetsbaar bij het huisbezoek gebleken."})
    assert answer["response_action"] == "update", answer
    assert "huishouden gecorrigeerd" in all_text(answer["view"])
    case = await the_case(services)
    assert case.category_names == ["kwetsbaar"]
    # and the rule follows at once
    answer_text = await slash_answer(slack_bot, fake, "U0CARLA", f"sluit {REF} uitgezet_zonder_opvang {REASON}")
    assert "nooit op straat" in answer_text
    # someone else may not correct
    updated = len(fake.of("views.update"))
    await slack_bot.slash("U0FATIMA", "/regie", f"huishouden {REF}")
    await fake.wait_for("views.update", updated + 1)
    refused = fake.last_view("regie_bericht")
    assert "voorzitter" in all_text(refused)


# --- Telegram --------------------------------------------------------------------------------


async def say(fake_telegram: FakeTelegram, user: int, text: str, expect: str) -> Call:
    mark = fake_telegram.mark()
    fake_telegram.send_text(user, text)
    return await fake_telegram.next_call("sendMessage", user, after=mark, contains=expect)


async def tap(fake_telegram: FakeTelegram, user: int, call: Call, button: str, expect: str) -> Call:
    mark = fake_telegram.mark()
    fake_telegram.tap(user, call, button)
    return await fake_telegram.next_call("sendMessage", user, after=mark, contains=expect)


async def test_telegram_door(services: Services, fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter,
                             clock: Clock) -> None:
    clock.set(at(11, 19, 10))
    await file(services, huishouden=["woonoverlast"], minderjarige_kinderen="0")
    # typed in full
    for typed in ("opvang=nvt", "opvang=geen", "opvang=-"):
        await say(fake_telegram, CARLA, f"/sluit {REF} uitgezet_met_opvang {REASON} {typed}",
                  "tellen niet als opvang")
    await say(fake_telegram, CARLA, f"/sluit {REF} uitgezet_met_opvang {REASON}", "hoort de opvang")
    # the conversation: the shelter is a choice, free words are asked again
    outcome = await say(fake_telegram, CARLA, f"/sluit {REF}", "Hoe is de casus")
    shelter = await tap(fake_telegram, CARLA, outcome, "uitgezet met opvang", "Welke opvang")
    assert [b["text"] for b in shelter.buttons()][:6] == [
        "eigen netwerk", "familie of vrienden", "crisisopvang", "maatschappelijke opvang",
        "andere woonruimte", "zorginstelling"]
    for word in ("nvt", "geen", "-"):
        mark = fake_telegram.mark()
        fake_telegram.send_text(CARLA, word)
        await fake_telegram.next_call("sendMessage", CARLA, after=mark, contains="kies een van deze")
        await fake_telegram.next_call("sendMessage", CARLA, after=mark, contains="Welke opvang")
    await say(fake_telegram, CARLA, "/annuleer", "")
    assert (await the_case(services)).phase != "gesloten"

    # the corporation corrects the household: now protected
    await say(fake_telegram, ANNA, f'/huishouden {REF} kinderen=1 '
                                   f'categorieen=gezin_met_minderjarige_kinderen '
                                   f'reden="Er woont een kind van vier."', "huishouden gecorrigeerd")
    await say(fake_telegram, CARLA, f"/sluit {REF} uitgezet_zonder_opvang {REASON}", "nooit op straat")
    await say(fake_telegram, CARLA, f"/sluit {REF} vertrokken_onbekend {REASON}", "Jeugdbescherming")

    # reopen the decision, then close in the conversation with the report
    await decided_then_reopened(services, clock)
    await besluit.reopen_decision(services, member(services.org, "carla"), REF,
                                  "Nieuwe informatie van Talis.")
    outcome = await say(fake_telegram, CARLA, f"/sluit {REF}", "Hoe is de casus")
    desk = await tap(fake_telegram, CARLA, outcome, "onbekende bestemming", "Bij wie heb je gemeld")
    day = await tap(fake_telegram, CARLA, desk, "Jeugdbescherming", "Op welke datum")
    reason = await say(fake_telegram, CARLA, "24-11-2026", "toelichting")
    assert day and reason
    mark = fake_telegram.mark()
    fake_telegram.send_text(CARLA, REASON)
    await fake_telegram.next_call("sendMessage", CARLA, after=mark, contains="is afgesloten")
    told = await fake_telegram.next_call("sendMessage", JOOST, after=mark, contains=REF)
    assert "Jeugdbescherming" in told.text and "Jan Fictief" not in told.text
    case = await the_case(services)
    assert case.outcome == "vertrokken_onbekend" and case.reported_to == "jeugdbescherming"


async def test_telegram_household_conversation(services: Services, fake_telegram: FakeTelegram,
                                               telegram_bot: TelegramAdapter) -> None:
    await file(services, huishouden=["woonoverlast"], minderjarige_kinderen="0")
    question = await say(fake_telegram, ANNA, f"/huishouden {REF}", "Welke soorten huishouden")
    assert "✓" in question.button("woonoverlast").get("text", "")  # as recorded, already ticked
    children = await fake_telegram.pick(ANNA, question, "kwetsbaar", "Hoeveel minderjarige")
    assert children
    await say(fake_telegram, ANNA, "twee", "Hoeveel minderjarige")
    await say(fake_telegram, ANNA, "1", "Waarom corrigeer")
    await say(fake_telegram, ANNA, "Bij het huisbezoek bleek er een kind te zijn.", "huishouden gecorrigeerd")
    case = await the_case(services)
    assert sorted(case.category_names) == ["kwetsbaar", "woonoverlast"] and case.minor_children == 1
