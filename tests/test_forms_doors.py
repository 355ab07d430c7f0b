"""Every case-work form opens from its button and completes, on Slack (signed HTTP against
the fake Slack) and on Telegram (against the fake Bot API): the same definition behind both."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.telegram import TelegramAdapter
from commands.context import Services
from commands.replies import Action
from commands.words import ActionName
from messages import telegram as tg
from messages.slack import button
from store.models import Case, Decision, Feedback, Reminder, Vote
from tests.conftest import Clock
from tests.fakeslack import FakeSlack, SlackBot
from tests.faketelegram import Call, FakeTelegram
from tests.test_forms_walker import at, on_the_agenda

CARLA, DIRK, EVA = 5003, 5004, 5005


async def open_reminder(services: Services) -> int:
    async with services.sessions() as session:
        reminder = await session.scalar(select(Reminder).where(
            Reminder.sent_at.is_(None), Reminder.cancelled_at.is_(None),
            Reminder.due_at > datetime(2026, 12, 23)).order_by(Reminder.due_at))
        assert reminder is not None
        return reminder.id


async def case(services: Services) -> Case:
    async with services.sessions() as session:
        found = await session.scalar(select(Case))
        assert found is not None
        return found


async def count(services: Services, model: type) -> int:
    async with services.sessions() as session:
        return len((await session.scalars(select(model))).all())


# --- Slack ---------------------------------------------------------------------------------------


async def modal_from_button(slack_bot: SlackBot, fake: FakeSlack, user: str, name: str,
                            value: str, callback_id: str, *, refined: bool = False) -> dict:
    opened, updated = len(fake.of("views.open")), len(fake.of("views.update"))
    await slack_bot.click(user, button(Action(name, value, f"actie.{name}"), 0))
    await fake.wait_for("views.open", opened + 1)
    if refined:
        await fake.wait_for("views.update", updated + 1)
    return fake.last_view(callback_id)


async def submitted(slack_bot: SlackBot, fake: FakeSlack, user: str, view: dict,
                    values: dict) -> None:
    _, answer = await slack_bot.submit(user, view, values)
    assert answer["response_action"] == "update", answer
    await fake.work_done()


async def test_every_form_from_its_button_on_slack(slack_bot: SlackBot, fake_slack: FakeSlack,
                                                   services: Services, clock: Clock) -> None:
    fake = fake_slack
    ref = await on_the_agenda(services, clock)

    view = await modal_from_button(slack_bot, fake, "U0FATIMA", ActionName.STAPPEN_KIEZEN, ref,
                                   "stappen")
    await submitted(slack_bot, fake, "U0FATIMA", view, {"stappen": ["huisbezoek"]})
    assert await count(services, Vote) == 7

    view = await modal_from_button(slack_bot, fake, "U0CARLA", ActionName.BESLUIT_VASTLEGGEN, ref,
                                   "besluit")
    await submitted(slack_bot, fake, "U0CARLA", view, {"q1": "meerderheid", "q3": "meerderheid"})
    assert await count(services, Decision) == 1

    view = await modal_from_button(slack_bot, fake, "U0CARLA", ActionName.CASEMANAGER_AANWIJZEN,
                                   ref, "casemanager")
    await submitted(slack_bot, fake, "U0CARLA", view, {"casemanager": "U0DIRK",
                                                       "termijn": "2027-02-24", "weken": "4"})
    assert (await case(services)).casemanager_id == "dirk"

    clock.set(at(2026, 12, 22, 9))
    view = await modal_from_button(slack_bot, fake, "U0DIRK", ActionName.TERUGKOPPELING_GEVEN, ref,
                                   "terugkoppeling", refined=True)
    await submitted(slack_bot, fake, "U0DIRK", view, {
        "tekst": "Huur van december is betaald.", "termijn_houdt": "ja"})
    assert await count(services, Feedback) == 1

    reminder = await open_reminder(services)
    view = await modal_from_button(slack_bot, fake, "U0CARLA", ActionName.HERINNERING_UITSTELLEN,
                                   str(reminder), "uitstellen")
    await submitted(slack_bot, fake, "U0CARLA", view, {"datum": "2027-01-15",
                                                       "reden": "Wacht op de schuldhulp."})
    async with services.sessions() as session:
        postponed = await session.get(Reminder, reminder)
        assert postponed is not None and postponed.due_at.date().isoformat() >= "2027-01-15"

    view = await modal_from_button(slack_bot, fake, "U0CARLA", ActionName.SLUITEN, ref, "sluiten")
    await submitted(slack_bot, fake, "U0CARLA", view, {
        "uitkomst": "blijft_betalingsregeling",
        "reden": "Regeling loopt goed en de huur wordt betaald."})
    assert (await case(services)).phase == "gesloten"


# --- Telegram ------------------------------------------------------------------------------------


async def from_button(fake_telegram: FakeTelegram, user: int, name: str, value: str, expect: str) -> Call:
    """Tap button `name` (as the bot sends it) on a message in the private chat."""
    mark = fake_telegram.mark()
    message = {"message_id": 1, "date": 0, "chat": {"id": user, "type": "private"}, "text": "."}
    fake_telegram.queue(fake_telegram.callback_update(user, message, tg.callback_data("a", name, value)))
    return await fake_telegram.next_call("sendMessage", user, after=mark, contains=expect)


async def answer(fake_telegram: FakeTelegram, user: int, text: str, expect: str) -> Call:
    mark = fake_telegram.mark()
    fake_telegram.send_text(user, text)
    return await fake_telegram.next_call("sendMessage", user, after=mark, contains=expect)


async def test_every_form_from_its_button_on_telegram(
    telegram_bot: TelegramAdapter, fake_telegram: FakeTelegram, services: Services, clock: Clock
) -> None:
    ref = await on_the_agenda(services, clock)

    await from_button(fake_telegram, EVA, ActionName.STAPPEN_KIEZEN, ref, "Welke stappen")
    await answer(fake_telegram, EVA, "Schuldhulpverlening, huisbezoek", "Toelichting")
    await answer(fake_telegram, EVA, "Eerst een huisbezoek.", "ontvangen")
    assert await count(services, Vote) == 7

    await from_button(fake_telegram, CARLA, ActionName.BESLUIT_VASTLEGGEN, ref, "Hoe leg je")
    await answer(fake_telegram, CARLA, "volgens de meerderheid", "Volgende stap")
    assert await count(services, Decision) == 1

    await from_button(fake_telegram, CARLA, ActionName.CASEMANAGER_AANWIJZEN, ref, "Wie wordt")
    await answer(fake_telegram, CARLA, "Dirk", "termijn")
    await answer(fake_telegram, CARLA, "24-02-2027", "weken")
    mark = fake_telegram.mark()
    fake_telegram.send_text(CARLA, "4")
    await fake_telegram.next_call("sendMessage", DIRK, after=mark, contains=ref)
    assert (await case(services)).casemanager_id == "dirk"

    clock.set(at(2026, 12, 22, 9))
    await from_button(fake_telegram, DIRK, ActionName.TERUGKOPPELING_GEVEN, ref, "stand van zaken")
    await answer(fake_telegram, DIRK, "Huur van december is betaald.", "Voorwaarde 1")
    await answer(fake_telegram, DIRK, "De rest zo laten", "termijn")
    mark = fake_telegram.mark()
    fake_telegram.send_text(DIRK, "ja")
    await fake_telegram.next_call("sendMessage", DIRK, after=mark, contains=ref)
    assert await count(services, Feedback) == 1

    reminder = await open_reminder(services)
    await from_button(fake_telegram, CARLA, ActionName.HERINNERING_UITSTELLEN, str(reminder), "Tot wanneer")
    await answer(fake_telegram, CARLA, "15-01-2027", "Waarom")
    mark = fake_telegram.mark()
    fake_telegram.send_text(CARLA, "Wacht op de schuldhulp.")
    await fake_telegram.next_call("sendMessage", CARLA, after=mark)
    async with services.sessions() as session:
        postponed = await session.get(Reminder, reminder)
        assert postponed is not None and postponed.due_at.date().isoformat() >= "2027-01-15"

    await from_button(fake_telegram, CARLA, ActionName.SLUITEN, ref, "Hoe is de casus")
    await answer(fake_telegram, CARLA, "blijft_betalingsregeling", "afsluiten")
    mark = fake_telegram.mark()
    fake_telegram.send_text(CARLA, "Regeling loopt goed en de huur wordt betaald.")
    await fake_telegram.next_call("sendMessage", CARLA, after=mark, contains=ref)
    assert (await case(services)).phase == "gesloten"
