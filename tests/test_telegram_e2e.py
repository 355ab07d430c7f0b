"""End to end through Telegram: melding → announcement → agenda → votes → decision →
casemanager → terugkoppeling → closed, all via updates fed by the fake Bot API server."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.telegram import TelegramAdapter
from commands.context import Services
from commands.reminders import reminder_outgoing
from store.models import Case, Decision, Event, Feedback, Reminder, ThreadRef, Vote
from tests.faketelegram import Call, FakeTelegram
from tests.test_telegram_melding import (
    ANNA,
    CARLA,
    OOST,
    TALIS,
    fill_rest,
    fill_until_children,
    tap,
)

DIRK = 5004  # lid, casemanager (Buurtteam)
EVA = 5005  # lid, casemanager (Schuldhulpverlening)
JOOST = 5010  # coördinator


@pytest.fixture
def telegram_forums() -> tuple[int, ...]:
    return (OOST,)


async def tap_answer(fake_telegram: FakeTelegram, user: int, call: Call, button: str) -> Call:
    """Tap and return the callback answer (the pop-up)."""
    return await fake_telegram.answer_to(fake_telegram.tap(user, call, button))


async def say(fake_telegram: FakeTelegram, user: int, text: str, expect: str, chat: int | None = None,
              thread: int | None = None) -> Call:
    mark = fake_telegram.mark()
    fake_telegram.send_text(user, text, chat_id=chat, thread_id=thread)
    return await fake_telegram.next_call("sendMessage", chat or user, after=mark, contains=expect)


async def scalar(services: Services, query: object) -> object:
    async with services.transaction() as session:
        return await session.scalar(query)  # type: ignore[call-overload]


async def test_whole_flow_through_telegram(
    services: Services, fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter
) -> None:
    # 1. the melding, in the private chat
    summary = await fill_rest(fake_telegram, await fill_until_children(fake_telegram))
    await tap(fake_telegram, ANNA, summary, "Indienen", "RT-2026-0001")
    await fake_telegram.next_call("sendMessage", OOST, contains="Nieuwe melding RT-2026-0001")

    # 2. the agenda: the chair asks for it in the group and posts it with the button
    agenda = await say(fake_telegram, CARLA, "/agenda", "RT-2026-0001", chat=OOST)
    mark = fake_telegram.mark()
    fake_telegram.tap(CARLA, agenda, "Agenda plaatsen")
    topic = await fake_telegram.next_call("createForumTopic", OOST, after=mark)
    assert "RT-2026-0001" in topic.params["name"]
    case_message = await fake_telegram.next_call("sendMessage", OOST, after=mark,
                                        contains="Stem hieronder")
    thread_id = case_message.params["message_thread_id"]
    assert thread_id
    assert "Fictief" not in case_message.text

    # 3. three members vote with the buttons; the tally is edited in place in the topic
    for user in (CARLA, DIRK, EVA):
        answer = await tap_answer(fake_telegram, user, case_message, "1: ja")
        assert answer.params.get("text") is None or "RT-2026-0001" in answer.params["text"]
        await tap_answer(fake_telegram, user, case_message, "3: MBZ nee")
    tallies = fake_telegram.sent("sendMessage", OOST)
    tally = next(c for c in tallies if "Stemmen RT-2026-0001" in c.text)
    assert tally.params["message_thread_id"] == thread_id
    edits = await fake_telegram.wait_for(lambda: len(fake_telegram.sent("editMessageText", OOST)) >= 5)
    assert edits
    tally_now = fake_telegram.current_text(OOST, fake_telegram.message_of(tally)["message_id"])
    assert "3 van minimaal 3" in tally_now
    # question 2 needs a choice list: it continues in the private chat
    mark = fake_telegram.mark()
    fake_telegram.tap(EVA, case_message, "2: stappen kiezen")
    steps = await fake_telegram.next_call("sendMessage", EVA, after=mark, contains="Welke stappen")
    note = await fake_telegram.pick(EVA, steps, "schuldhulpverlening", "Toelichting")
    await tap(fake_telegram, EVA, note, "Overslaan", "RT-2026-0001")
    assert await scalar(services, select(func.count()).select_from(Vote)) == 7

    # a double tap on a vote changes nothing
    await tap_answer(fake_telegram, CARLA, case_message, "1: ja")
    assert await scalar(services, select(func.count()).select_from(Vote)) == 7

    # personal data: only privately, only to the entitled
    refused = await tap_answer(fake_telegram, DIRK, case_message, "Toon gegevens")
    assert "niet zien" in refused.params["text"]
    assert str(refused.params["show_alert"]).lower() == "true"
    mark = fake_telegram.mark()
    fake_telegram.tap(CARLA, case_message, "Toon gegevens")
    private = await fake_telegram.next_call("sendMessage", CARLA, after=mark, contains="Fictief")
    assert private.chat_id == CARLA
    assert all("Fictief" not in c.text for c in fake_telegram.sent(chat_id=OOST))
    assert all("Fictief" not in c.text for c in fake_telegram.sent(chat_id=TALIS))

    # 4. the chair records the decision (a short private conversation)
    mark = fake_telegram.mark()
    fake_telegram.tap(CARLA, case_message, "Besluit vastleggen")
    how = await fake_telegram.next_call("sendMessage", CARLA, after=mark, contains="Hoe leg je")
    confirmation = await tap(fake_telegram, CARLA, how, "meerderheid", "Volgende stap")
    decision = await scalar(services, select(Decision))
    assert isinstance(decision, Decision) and decision.q1 == "ja" and decision.q3 == "nee"
    assert decision.q2_steps == ["schuldhulpverlening"]
    await fake_telegram.next_call("sendMessage", OOST, after=mark, contains="RT-2026-0001")

    # 5. the casemanager, with a wrong termijn first
    mark = fake_telegram.mark()
    fake_telegram.tap(CARLA, confirmation, "Casemanager aanwijzen")
    who = await fake_telegram.next_call("sendMessage", CARLA, after=mark, contains="Wie wordt")
    await tap(fake_telegram, CARLA, who, "Dirk", "termijn")
    again = await say(fake_telegram, CARLA, "1 januari 2020", "termijn")
    assert again.text
    weeks = await say(fake_telegram, CARLA, "01-03-2027", "weken")
    mark = fake_telegram.mark()
    fake_telegram.tap(CARLA, weeks, "Overslaan")
    for_dirk = await fake_telegram.next_call("sendMessage", DIRK, after=mark, contains="RT-2026-0001")
    case = await scalar(services, select(Case))
    assert isinstance(case, Case) and case.casemanager_id == "dirk" and case.phase == "in_uitvoering"

    # a reminder for Dirk, postponed with its button and a short conversation
    reminder = await scalar(services, select(Reminder).where(Reminder.target_member_id == "dirk")
                            .order_by(Reminder.due_at))
    assert isinstance(reminder, Reminder)
    mark = fake_telegram.mark()
    await telegram_bot.deliveries.deliver(reminder_outgoing(services, reminder, case))
    sent = await fake_telegram.next_call("sendMessage", DIRK, after=mark)
    mark = fake_telegram.mark()
    fake_telegram.tap(DIRK, sent, "uitstellen")
    until = await fake_telegram.next_call("sendMessage", DIRK, after=mark, contains="Tot wanneer")
    await say(fake_telegram, DIRK, "15-12-2026", "Waarom")
    done = await say(fake_telegram, DIRK, "Huurder is twee weken weg.", "uitgesteld")
    assert until and done
    postponed = await scalar(services, select(Reminder).where(Reminder.id == reminder.id)
                             .execution_options(populate_existing=True))
    assert isinstance(postponed, Reminder) and postponed.postponed_to is not None

    # 6. the casemanager gives terugkoppeling from the button in his private message
    mark = fake_telegram.mark()
    fake_telegram.tap(DIRK, for_dirk, "Terugkoppeling geven")
    text_question = await fake_telegram.next_call("sendMessage", DIRK, after=mark, contains="stand van zaken")
    condition = await say(fake_telegram, DIRK, "Huisbezoek gedaan, <script> regeling loopt.",
                          "Voorwaarde 1 van")
    holds = await tap(fake_telegram, DIRK, condition, "De rest zo laten", "termijn")
    assert text_question
    mark = fake_telegram.mark()
    fake_telegram.tap(DIRK, holds, "ja")
    in_thread = await fake_telegram.next_call("sendMessage", OOST, after=mark, contains="RT-2026-0001")
    assert in_thread.params.get("message_thread_id") == thread_id
    assert "<script>" not in in_thread.text
    assert await scalar(services, select(func.count()).select_from(Feedback)) == 1

    # 7. the chair closes the case
    actions = await say(fake_telegram, CARLA, "/status RT-2026-0001", "Wat wil je doen")
    outcome = await tap(fake_telegram, CARLA, actions, "Casus sluiten", "Hoe is de casus")
    reason = await tap(fake_telegram, CARLA, outcome, "betalingsregeling", "toelichting")
    await say(fake_telegram, CARLA, "Betalingsregeling loopt goed, huurder blijft wonen.", "RT-2026-0001")
    case = await scalar(services, select(Case).execution_options(populate_existing=True))
    assert isinstance(case, Case) and case.phase == "gesloten"
    assert case.outcome == "blijft_betalingsregeling"
    assert reason
    refs = await scalar(services, select(func.count()).select_from(ThreadRef))
    assert refs and int(str(refs)) >= 3
    kinds = (await scalar(services, select(func.count()).select_from(Event)))
    assert kinds

    # the coördinator looks the case up
    timeline = await say(fake_telegram, JOOST, "/status RT-2026-0001", "RT-2026-0001")
    assert timeline.params["parse_mode"] == "HTML"
    mark = fake_telegram.mark()
    fake_telegram.send_text(JOOST, "/rapport csv")
    photo = await fake_telegram.next_call("sendPhoto", JOOST, after=mark)
    document = await fake_telegram.next_call("sendDocument", JOOST, after=mark)
    assert photo.params["photo"]["size"] > 0
    assert document.params["document"]["filename"].endswith(".csv")
