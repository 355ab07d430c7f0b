"""The whole Regieteam flow in Slack, over HTTP with signed requests in Slack's shapes:
/melding → modal → field error → corrected → announcement → agenda with a thread per case →
votes by three members → decision by the chair → casemanager → terugkoppeling → closed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from commands.context import Services
from store.models import Case, Decision, Event, Feedback, ThreadRef, Vote
from tests.fakeslack import Call, FakeSlack, SlackBot, all_text, button_named

REF = "RT-2026-0001"



def melding_values(**changes: Any) -> dict[str, Any]:
    from tests.helpers import valid_answers

    return valid_answers(dagvaarding="2026-12-01", zitting="2026-12-15", vonnis=None,
                         ontruiming=None, **changes)


async def count(services: Services, model: Any, *where: Any) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def posts_to(fake: FakeSlack, channel: str) -> list[Call]:
    return [c for c in fake.of("chat.postMessage") if c.args["channel"] == channel]


def responses_text(fake: FakeSlack) -> str:
    return " ".join(all_text(c.args) for c in fake.of("response_url"))


async def file_melding_via_modal(slack_bot: SlackBot, fake: FakeSlack) -> None:
    await slack_bot.slash("U0ANNA", "/melding")
    await fake.wait_for("views.open")
    view = fake.last_view("melding")
    _, answer = await slack_bot.submit("U0ANNA", view, melding_values(
        voortraject="Gebeld met 0612345678 en huisbezoek gedaan."))
    assert answer["response_action"] == "errors" and "voortraject" in answer["errors"]
    _, answer = await slack_bot.submit("U0ANNA", view, melding_values(
        voortraject="Betalingsregeling & huisbezoek <!channel> geprobeerd."))
    assert answer["response_action"] == "update"
    await fake.wait_for("chat.postMessage", 2)


async def test_whole_flow(slack_bot: SlackBot, fake_slack: FakeSlack, services: Services) -> None:
    fake = fake_slack
    # 1. melding
    await file_melding_via_modal(slack_bot, fake)
    announcement = posts_to(fake, "C0REGIE")[0]
    assert REF in all_text(announcement.args)
    assert "Jan Fictief" not in all_text(announcement.args)

    # 2. the chair posts the agenda: one agenda message plus one thread opener per case
    status, _ = await slack_bot.slash("U0CARLA", "/agenda", "plaats", channel="C0REGIE")
    assert status == 200
    await fake.wait_for("chat.postMessage", 4)
    await fake.work_done()
    opener = next(c for c in posts_to(fake, "C0REGIE") if "regie|stem|" in all_text(c.args))
    thread_ts = fake.of("chat.postMessage")[fake.of("chat.postMessage").index(opener)]
    async with services.sessions() as session:
        ref = await session.scalar(select(ThreadRef).where(ThreadRef.purpose == "case_thread"))
        assert ref is not None and ref.channel == "C0REGIE"
    blocks = opener.args["blocks"]
    assert "thread_ts" not in thread_ts.args

    # 3. votes by three members in the thread; Q2 through its checklist modal
    for user in ("U0CARLA", "U0DIRK", "U0FATIMA"):
        await slack_bot.click(user, button_named(blocks, "stem", f"{REF}|q1|ja"))
        await slack_bot.click(user, button_named(blocks, "stem", f"{REF}|q3|nee"))
    await slack_bot.click("U0DIRK", button_named(blocks, "stem", f"{REF}|q1|ja"))  # double click
    await fake.work_done()
    assert await count(services, Vote) == 6
    tally_posts = [c for c in posts_to(fake, "C0REGIE") if "Stemmen" in all_text(c.args)]
    assert len(tally_posts) == 1
    assert tally_posts[0].args["thread_ts"] == ref.message_ref
    # the tally is edited in place; edits that queue up behind each other are sent as one, so
    # quick votes may all land in the first post or in one or more later edits of it
    updates = fake.of("chat.update")
    assert len({u.args["ts"] for u in updates}) <= 1
    assert "3 v" in all_text((updates or tally_posts)[-1].args)  # the latest shows every vote

    await slack_bot.click("U0FATIMA", button_named(blocks, "stappen_kiezen"))
    await fake.wait_for("views.open", 2)
    view = fake.last_view("stappen")
    _, answer = await slack_bot.submit("U0FATIMA", view, {"stappen": []})
    assert answer["response_action"] == "errors" and "stappen" in answer["errors"]
    _, answer = await slack_bot.submit("U0FATIMA", view, {"stappen": ["schuldhulpverlening", "huisbezoek"]})
    assert answer["response_action"] == "update"
    await fake.work_done()
    assert await count(services, Vote) == 7

    # 4. the decision: refused for a member, recorded by the chair (twice = once)
    opened = len(fake.of("views.open"))
    await slack_bot.click("U0DIRK", button_named(blocks, "besluit_vastleggen"))
    await fake.work_done()
    assert len(fake.of("views.open")) == opened
    assert "voorzitter" in responses_text(fake)
    await slack_bot.click("U0CARLA", button_named(blocks, "besluit_vastleggen"))
    await fake.wait_for("views.open", opened + 1)
    view = fake.last_view("besluit")
    _, answer = await slack_bot.submit("U0CARLA", view, {"q1": "nee", "q3": "meerderheid"})
    assert answer["response_action"] == "errors" and "reden" in answer["errors"]
    _, answer = await slack_bot.submit("U0CARLA", view, {"q1": "meerderheid", "q3": "meerderheid"})
    assert answer["response_action"] == "update"
    _, again = await slack_bot.submit("U0CARLA", view, {"q1": "meerderheid", "q3": "meerderheid"},
                                headers={"X-Slack-Retry-Num": "1"})
    assert again["response_action"] == "update"
    await fake.work_done()
    assert await count(services, Decision) == 1
    async with services.sessions() as session:
        decision = await session.scalar(select(Decision))
        assert decision is not None and decision.q1 == "ja" and decision.q3 == "nee"

    # 5. the casemanager, from the button the chair got in a direct message
    dm = next(c for c in posts_to(fake, "DU0CARLA") if "casemanager_aanwijzen" in all_text(c.args))
    await slack_bot.click("U0CARLA", button_named(dm.args["blocks"], "casemanager_aanwijzen"),
                    channel="DU0CARLA")
    await fake.wait_for("views.open", opened + 2)
    view = fake.last_view("casemanager")
    _, answer = await slack_bot.submit("U0CARLA", view, {"casemanager": "U0NOBODY",
                                                   "termijn": "2027-02-24", "weken": "4"})
    assert answer["response_action"] == "errors" and "casemanager" in answer["errors"]
    _, answer = await slack_bot.submit("U0CARLA", view, {"casemanager": "U0DIRK",
                                                   "termijn": "2027-02-24", "weken": "4"})
    assert answer["response_action"] == "update"
    await fake.work_done()
    async with services.sessions() as session:
        case = await session.scalar(select(Case))
        assert case is not None and case.casemanager_id == "dirk" and case.phase == "in_uitvoering"
    welcome = next(c for c in posts_to(fake, "DU0DIRK") if "toon_gegevens" in all_text(c.args))

    # 6. personal data: to the casemanager only, ephemeral; refused for another member
    before = len(fake.of("response_url"))
    await slack_bot.click("U0DIRK", button_named(welcome.args["blocks"], "toon_gegevens"), channel="DU0DIRK")
    await slack_bot.click("U0FATIMA", button_named(blocks, "toon_gegevens"))
    await fake.wait_for("response_url", before + 2)
    await fake.work_done()
    answers = fake.of("response_url")[before:]
    shown = [c for c in answers if "Jan Fictief" in all_text(c.args)]
    assert len(shown) == 1 and shown[0].args["response_type"] == "ephemeral"
    assert await count(services, Event, Event.kind == "personal_data_viewed") == 1
    assert await count(services, Event, Event.kind == "personal_data_refused") == 1

    # 7. terugkoppeling through /terugkoppeling: the modal opens, then gets the plan's conditions
    await slack_bot.slash("U0DIRK", "/terugkoppeling", REF.lower())
    await fake.wait_for("views.update")
    view = fake.last_view("terugkoppeling")
    assert any(b.get("block_id") == "vw_lopende_huur_betaald" for b in view["blocks"])
    _, answer = await slack_bot.submit("U0DIRK", view, {
        "tekst": "Huur wordt weer betaald, afspraak met schuldhulp gemaakt.",
        "termijn_houdt": "ja", "vw_lopende_huur_betaald": "voldaan"})
    assert answer["response_action"] == "update"
    await fake.work_done()
    assert await count(services, Feedback) == 1

    # 8. the chair closes the case
    before = len(fake.of("response_url"))
    await slack_bot.slash("U0CARLA", "/regie",
                    f"sluit {REF} blijft_betalingsregeling Regeling loopt goed en huur wordt betaald")
    await fake.wait_for("response_url", before + 1)
    await fake.work_done()
    async with services.sessions() as session:
        case = await session.scalar(select(Case))
        assert case is not None and case.phase == "gesloten", responses_text(fake)[-600:]
    assert posts_to(fake, "C0TALIS")

    # Nothing personal ever went to a channel, and every user text was escaped.
    for call in fake.of("chat.postMessage") + fake.of("chat.update"):
        text = all_text(call.args)
        if call.args["channel"].startswith("C"):
            assert "Jan Fictief" not in text and "Verzonnenstraat" not in text
        assert "<!channel>" not in text
    thread_posts = [c for c in posts_to(fake, "C0REGIE") if c.args.get("thread_ts")]
    assert {c.args["thread_ts"] for c in thread_posts} == {ref.message_ref}
