"""Free text through Slack, over signed HTTP against the fake Slack: a made-up name typed into
every free-text field (melding, Q2 note, decision note and reason, reopen reason,
terugkoppeling, postpone reason, closing reason and shelter) reaches no channel, thread,
direct message or besluitenlijst and is not readable in the database. "Toon toelichting"
shows it ephemerally to the entitled only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from commands.context import Services
from store.models import Case, Event, Reminder
from tests.conftest import Clock, Database
from tests.fakeslack import FakeSlack, SlackBot, all_text, button_named
from tests.free_text_support import FIRST, LAST, NAME, assert_not_stored, note
from tests.test_log_safety import Capture, restore_logging, wide_open_log

__all__ = ["restore_logging", "wide_open_log"]  # fixtures: every log line, at DEBUG

REF = "RT-2026-0001"


def ams(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour - 1, minute, tzinfo=UTC)


def melding_values(**changes: Any) -> dict[str, Any]:
    from tests.helpers import valid_answers

    values: dict[str, Any] = {
        "dagvaarding": "2026-12-01", "zitting": "2026-12-15", "vonnis": None, "ontruiming": None,
        "reden": "anders", "reden_anders": note("reden_anders"), "huishouden": ["multiprobleem"],
        "minderjarige_kinderen": "0", "voortraject": note("voortraject"),
        "onvoldoende": note("onvoldoende"), "contactpersoon": NAME}
    return valid_answers(**{**values, **changes})


class Door:
    """One member's hands on Slack: slash commands, buttons and modals."""

    def __init__(self, bot: SlackBot, fake: FakeSlack) -> None:
        self.bot, self.fake = bot, fake

    async def modal(self, user: str, callback: str, start: Any) -> dict[str, Any]:
        opened = len(self.fake.of("views.open"))
        await start
        await self.fake.wait_for("views.open", opened + 1)
        if callback == "terugkoppeling":  # completed with the plan's conditions afterwards
            await self.fake.wait_for("views.update")
        return self.fake.last_view(callback)

    async def submit(self, user: str, view: dict[str, Any], values: dict[str, Any]) -> Any:
        _, answer = await self.bot.submit(user, view, values)
        await self.fake.work_done()
        return answer

    async def command(self, user: str, text: str) -> str:
        """A /regie subcommand; the ephemeral answer through the response_url."""
        before = len(self.fake.of("response_url"))
        await self.bot.slash(user, "/regie", text)
        answers = await self.fake.wait_for("response_url", before + 1)
        return all_text(answers[-1].args)

    async def click(self, user: str, button: dict[str, Any], channel: str = "C0REGIE") -> str:
        before = len(self.fake.of("response_url"))
        await self.bot.click(user, button, channel=channel)
        answers = await self.fake.wait_for("response_url", before + 1)
        return all_text(answers[-1].args)


def shared_calls(fake: FakeSlack) -> list[dict[str, Any]]:
    """Every message the bot posted or edited: channels, threads and direct messages."""
    return [c.args for method in ("chat.postMessage", "chat.update", "chat.postEphemeral")
            for c in fake.of(method)]


async def test_free_text_never_leaves_the_private_view_on_slack(
    slack_bot: SlackBot, fake_slack: FakeSlack, services: Services, database: Database,
    clock: Clock, wide_open_log: Capture,
) -> None:
    fake, door = fake_slack, Door(slack_bot, fake_slack)
    clock.set(ams(11, 19, 10))

    # the melding: the household's own street in the voortraject is refused on the field
    view = await door.modal("U0ANNA", "melding", slack_bot.slash("U0ANNA", "/melding"))
    answer = await door.submit("U0ANNA", view, melding_values(
        voortraject="Twee keer aangebeld aan de Verzonnenstraat, niemand thuis."))
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["voortraject"]
    assert "de straat van het huishouden" in answer["errors"]["voortraject"]
    answer = await door.submit("U0ANNA", view, melding_values())
    assert answer["response_action"] == "update"

    # the agenda with one thread per case; its opener has the Toon toelichting button
    await slack_bot.slash("U0CARLA", "/agenda", "plaats", channel="C0REGIE")
    await fake.work_done()
    opener = next(c.args for c in fake.of("chat.postMessage")
                  if "regie|stem|" in all_text(c.args))["blocks"]
    for user in ("U0CARLA", "U0DIRK", "U0EVA"):
        await slack_bot.click(user, button_named(opener, "stem", f"{REF}|q1|ja"))
        await slack_bot.click(user, button_named(opener, "stem", f"{REF}|q3|nee"))
    await fake.work_done()
    view = await door.modal("U0EVA", "stappen",
                            slack_bot.click("U0EVA", button_named(opener, "stappen_kiezen")))
    answer = await door.submit("U0EVA", view, {"stappen": ["huisbezoek"],
                                               "stappen_tekst": note("stappen_tekst")})
    assert answer["response_action"] == "update"

    # the chair departs from the majority, with a note and a reason; reopens; decides again
    clock.set(ams(11, 24, 10, 30))
    decide = button_named(opener, "besluit_vastleggen")
    view = await door.modal("U0CARLA", "besluit", slack_bot.click("U0CARLA", decide))
    answer = await door.submit("U0CARLA", view, {
        "q1": "nee", "q3": "meerderheid", "q2_tekst": note("besluit_toelichting"),
        "reden": "Mevrouw Fictief wil niet meewerken."})
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["reden"]
    answer = await door.submit("U0CARLA", view, {
        "q1": "nee", "q3": "meerderheid", "q2_tekst": note("besluit_toelichting"),
        "reden": note("afwijking")})
    assert answer["response_action"] == "update"
    reopened = await door.command("U0CARLA", f"heropen {REF} {note('heropenen')}")
    assert "heropend" in reopened
    view = await door.modal("U0CARLA", "besluit", slack_bot.click("U0CARLA", decide))
    assert (await door.submit("U0CARLA", view, {"q1": "meerderheid", "q3": "meerderheid"})
            )["response_action"] == "update"
    assert "staat in het kanaal" in await door.command("U0CARLA", "besluitenlijst oost")
    view = await door.modal("U0CARLA", "casemanager",
                            slack_bot.slash("U0CARLA", "/regie", f"casemanager {REF}"))
    await door.submit("U0CARLA", view, {"casemanager": "U0DIRK", "termijn": "2027-02-24",
                                        "weken": "4"})

    # the casemanager's terugkoppeling and a postponed reminder
    view = await door.modal("U0DIRK", "terugkoppeling",
                            slack_bot.slash("U0DIRK", "/terugkoppeling", REF))
    answer = await door.submit("U0DIRK", view, {"tekst": note("terugkoppeling"),
                                                "termijn_houdt": "ja"})
    assert answer["response_action"] == "update"
    async with services.sessions() as session:
        reminder_id = await session.scalar(select(Reminder.id).where(
            Reminder.target_member_id == "dirk", Reminder.sent_at.is_(None),
            Reminder.cancelled_at.is_(None)).order_by(Reminder.due_at).limit(1))
    postpone = {"action_id": "regie|herinnering_uitstellen|0", "value": str(reminder_id),
                "text": {"type": "plain_text", "text": "Uitstellen"}}
    view = await door.modal("U0DIRK", "uitstellen",
                            slack_bot.click("U0DIRK", postpone, channel="DU0DIRK"))
    answer = await door.submit("U0DIRK", view, {"datum": "2026-12-15", "reden": note("uitstel")})
    assert answer["response_action"] == "update"

    # the chair closes, with a reason and the shelter
    view = await door.modal("U0CARLA", "sluiten", slack_bot.slash("U0CARLA", "/regie", f"sluit {REF}"))
    answer = await door.submit("U0CARLA", view, {"uitkomst": "uitgezet_met_opvang",
                                                 "reden": note("sluiten"), "opvang": "crisisopvang",
                                                 "opvang_toelichting": note("opvang")})
    assert answer["response_action"] == "update", answer
    async with services.sessions() as session:
        case = await session.scalar(select(Case).where(Case.reference == REF))
        assert case is not None and case.phase == "gesloten"

    # nothing typed was posted anywhere, in any thread or direct message, nor stored readably
    posted = shared_calls(fake)
    assert any("Besluitenlijst" in all_text(args) for args in posted)
    assert any("privé te bekijken" in all_text(args) for args in posted)
    for args in posted:
        assert FIRST not in all_text(args) and LAST not in all_text(args), args.get("channel")
    assert_not_stored(database)

    # Toon toelichting: ephemeral, for the corporation and for a team member
    for user in ("U0ANNA", "U0FATIMA"):
        shown = await door.click(user, button_named(opener, "toon_toelichting"))
        for field in ("reden_anders", "voortraject", "onvoldoende", "stappen_tekst",
                      "besluit_toelichting", "afwijking", "heropenen", "terugkoppeling",
                      "uitstel", "sluiten", "opvang"):
            assert note(field) in shown, (user, field)
        assert fake.of("response_url")[-1].args["response_type"] == "ephemeral"
    # the command does the same; a member of another team and corporation is refused
    assert note("voortraject") in await door.command("U0JOOST", f"toelichting {REF}")
    refusal = await door.command("U0BRAM", f"toelichting {REF}")
    assert "Je kunt de toelichting" in refusal and FIRST not in refusal
    async with services.sessions() as session:
        views = (await session.scalars(select(Event).where(
            Event.kind == "personal_data_viewed").order_by(Event.id))).all()
    assert [(e.actor_id, e.data["deur"], e.data["doel"]) for e in views
            if e.data.get("wat") == "toelichting"] == [
        ("anna", "slack", "knop toon_toelichting"), ("fatima", "slack", "knop toon_toelichting"),
        ("joost", "slack", "/regie toelichting")]
    # and in no log line, at DEBUG with every level cap taken away
    for part in (FIRST, LAST):
        assert part.lower() not in wide_open_log.text.lower(), f"{part} in the log"
