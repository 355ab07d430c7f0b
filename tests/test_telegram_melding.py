"""/melding through Telegram: a private conversation against the fake Bot API server."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.telegram import TelegramAdapter
from commands.context import Services
from messages.render import renderer
from store.models import Case, CasePersonalData, FormDraft
from tests.faketelegram import Call, FakeTelegram, start_telegram

ANNA = 5001  # melder, Talis
CARLA = 5003  # voorzitter Regieteam Oost
OOST = -1001002
TALIS = -1001001
STRANGER = 777


def q(name: str) -> str:
    """How the question for a form field starts (its label, in bold)."""
    return f"<b>{renderer('html').label('veld.' + name)}</b>"


async def say(fake_telegram: FakeTelegram, user: int, text: str, expect: str) -> Call:
    mark = fake_telegram.mark()
    fake_telegram.send_text(user, text)
    return await fake_telegram.next_call("sendMessage", user, after=mark, contains=expect)


async def tap(fake_telegram: FakeTelegram, user: int, call: Call, button: str, expect: str,
              chat: int | None = None) -> Call:
    mark = fake_telegram.mark()
    fake_telegram.tap(user, call, button)
    return await fake_telegram.next_call("sendMessage", chat or user, after=mark, contains=expect)


async def fill_until_children(fake_telegram: FakeTelegram) -> Call:
    question = await say(fake_telegram, ANNA, "/melding", q("wijk"))
    question = await tap(fake_telegram, ANNA, question, "Oost", q("reden"))
    question = await tap(fake_telegram, ANNA, question, "huurachterstand", q("huishouden"))
    mark = fake_telegram.mark()
    fake_telegram.tap(ANNA, question, "gezin met minderjarige kinderen")
    edit = await fake_telegram.next_call("editMessageReplyMarkup", ANNA, after=mark)
    assert "✓" in edit.button("gezin met").get("text", "")
    toggled = fake_telegram.message_of(question)
    fake_telegram.queue(fake_telegram.callback_update(ANNA, toggled, edit.button("Klaar")["callback_data"]))
    return await fake_telegram.next_call("sendMessage", ANNA, after=mark, contains=q("minderjarige_kinderen"))


async def fill_rest(fake_telegram: FakeTelegram, question: Call, name: str = "Jan Fictief") -> Call:
    question = await say(fake_telegram, ANNA, "2", q("achterstand_bedrag"))
    question = await say(fake_telegram, ANNA, "1.234,56", q("achterstand_maanden"))
    question = await say(fake_telegram, ANNA, "3", q("dagvaarding"))
    question = await say(fake_telegram, ANNA, "01-12-2026", q("zitting"))
    question = await say(fake_telegram, ANNA, "15-12-2026", q("vonnis"))
    question = await tap(fake_telegram, ANNA, question, "Overslaan", q("ontruiming"))
    question = await tap(fake_telegram, ANNA, question, "Overslaan", q("voortraject"))
    question = await say(fake_telegram, ANNA, "Betalingsregeling aangeboden, twee keer huisbezoek.",
                         q("onvoldoende"))
    question = await say(fake_telegram, ANNA, "De regeling is niet nagekomen en de achterstand groeit.",
                         q("huurder_geinformeerd"))
    question = await tap(fake_telegram, ANNA, question, "ja", q("contactpersoon"))
    question = await say(fake_telegram, ANNA, "Anna de Vries", q("huurder_naam"))
    question = await say(fake_telegram, ANNA, name, q("adres"))
    question = await say(fake_telegram, ANNA, "Verzonnenstraat 12", q("postcode"))
    return await say(fake_telegram, ANNA, "6511 ab", "Controleer je melding")


async def count(services: Services, model: type) -> int:
    async with services.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_melding_in_private_chat_with_one_wrong_answer(
    services: Services, fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter
) -> None:
    assert fake_telegram.sent("setMyCommands")[0].params["commands"][0]["command"] == "melding"
    await fill_until_children(fake_telegram)
    # a wrong answer: the same question comes back with what to fix; earlier answers stay
    mark = fake_telegram.mark()
    fake_telegram.send_text(ANNA, "twee")
    problem = await fake_telegram.next_call("sendMessage", ANNA, after=mark, contains="getal")
    again = await fake_telegram.next_call("sendMessage", ANNA, after=fake_telegram.calls.index(problem) + 1,
                                 contains=q("minderjarige_kinderen"))
    summary = await fill_rest(fake_telegram, again, name="Jan <b>Fictief</b> & zn")
    # HTML in the answer is shown literally (escaped), in the private summary only
    assert "Jan &lt;b&gt;Fictief&lt;/b&gt; &amp; zn" in summary.text
    assert summary.params["parse_mode"] == "HTML"
    assert "Huishouden" in summary.text or "huishouden" in summary.text.lower()
    mark = fake_telegram.mark()
    submit = fake_telegram.tap(ANNA, summary, "Indienen")
    filed = await fake_telegram.next_call("sendMessage", ANNA, after=mark, contains="RT-2026-0001")
    fake_telegram.queue(dict(submit))  # Telegram delivers the very same update again
    assert "ingediend" in filed.text
    announcement = await fake_telegram.next_call("sendMessage", OOST, contains="RT-2026-0001")
    assert "Fictief" not in announcement.text and "Verzonnenstraat" not in announcement.text
    assert await count(services, Case) == 1
    assert await count(services, FormDraft) == 0
    async with services.transaction() as session:
        personal = await session.scalar(select(CasePersonalData))
        assert personal is not None
        assert services.cipher.decrypt(personal.tenant_name) == "Jan <b>Fictief</b> & zn"
    # a double tap on "Indienen" (a second callback query) files nothing again
    answer = await fake_telegram.answer_to(fake_telegram.tap(ANNA, summary, "Indienen"))
    assert "afgerond" in answer.params.get("text", "")
    assert await count(services, Case) == 1


async def test_back_and_cancel(services: Services, fake_telegram: FakeTelegram,
                               telegram_bot: TelegramAdapter) -> None:
    question = await say(fake_telegram, ANNA, "/melding", q("wijk"))
    question = await tap(fake_telegram, ANNA, question, "Oost", q("reden"))
    back = await say(fake_telegram, ANNA, "/terug", q("wijk"))
    assert back.buttons()
    previous = [c for c in fake_telegram.sent("sendMessage", ANNA) if "vorige antwoord" in c.text]
    assert previous and "Oost" in previous[-1].text
    # a button of an earlier question no longer counts
    stale = await fake_telegram.answer_to(fake_telegram.tap(ANNA, question, "huurachterstand"))
    assert "eerdere vraag" in stale.params.get("text", "")
    await say(fake_telegram, ANNA, "/annuleer", "niets opgeslagen")
    assert await count(services, FormDraft) == 0
    await say(fake_telegram, ANNA, "Oost", "geen vraag open")


async def test_melding_in_group_links_to_private_chat(
    fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter
) -> None:
    mark = fake_telegram.mark()
    fake_telegram.send_text(ANNA, "/melding@regieteam_test_bot", chat_id=TALIS)
    reply = await fake_telegram.next_call("sendMessage", TALIS, after=mark)
    link = reply.buttons()[0]["url"]
    assert link == "https://t.me/regieteam_test_bot?start=melding"
    # the deep link opens the private chat with /start melding
    await say(fake_telegram, ANNA, "/start melding", q("wijk"))


async def test_unknown_user_is_refused_politely(fake_telegram: FakeTelegram,
                                                telegram_bot: TelegramAdapter) -> None:
    reply = await say(fake_telegram, STRANGER, "/melding", "Joost van Dam")
    assert "niet in de lijst" in reply.text


async def test_form_survives_a_restart(services: Services, fake_telegram: FakeTelegram) -> None:
    first = await start_telegram(services, fake_telegram)
    question = await fill_until_children(fake_telegram)
    await first.stop()
    second = await start_telegram(services, fake_telegram)
    try:
        await fill_rest(fake_telegram, question)
        summary = fake_telegram.sent("sendMessage", ANNA)[-1]
        await tap(fake_telegram, ANNA, summary, "Indienen", "RT-2026-0001")
    finally:
        await second.stop()
    assert await count(services, Case) == 1


async def test_repeated_update_is_handled_once(
    services: Services, fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter
) -> None:
    question = await say(fake_telegram, ANNA, "/melding", q("wijk"))
    update = fake_telegram.callback_update(ANNA, fake_telegram.message_of(question),
                                  question.button("Oost")["callback_data"])
    mark = fake_telegram.mark()
    fake_telegram.queue(update)
    await fake_telegram.next_call("sendMessage", ANNA, after=mark, contains=q("reden"))
    fake_telegram.queue(dict(update))  # Telegram delivers the same update again
    fake_telegram.send_text(ANNA, "/help")
    await fake_telegram.next_call("sendMessage", ANNA, after=mark, contains="Wat kan ik")
    asked = [c for c in fake_telegram.sent("sendMessage", ANNA)[-3:] if q("reden") in c.text]
    assert len(asked) == 1
    assert len(fake_telegram.sent("answerCallbackQuery")) == 1


async def test_change_an_answer_from_the_summary(
    services: Services, fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter
) -> None:
    summary = await fill_rest(fake_telegram, await fill_until_children(fake_telegram))
    choose = await tap(fake_telegram, ANNA, summary, "Aanpassen", "Welk antwoord")
    question = await tap(fake_telegram, ANNA, choose, "Postcode", q("postcode"))
    assert question.text
    again = await say(fake_telegram, ANNA, "6512 CD", "Controleer je melding")
    assert "6512 CD" in again.text and "6511 AB" not in again.text
    await tap(fake_telegram, ANNA, again, "Indienen", "RT-2026-0001")
    async with services.transaction() as session:
        personal = await session.scalar(select(CasePersonalData))
        assert personal is not None
        assert services.cipher.decrypt(personal.postcode) == "6512 CD"


async def test_a_cross_field_problem_is_told_at_once(
    fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter
) -> None:
    question = await fill_until_children(fake_telegram)
    assert question.text
    # a family with minor children but 0 children: told as soon as the number is given,
    # not after the name and the address
    mark = fake_telegram.mark()
    fake_telegram.send_text(ANNA, "0")
    again = await fake_telegram.next_call("sendMessage", ANNA, after=mark,
                                          contains=q("minderjarige_kinderen"))
    to_anna = fake_telegram.sent("sendMessage", ANNA)
    problem = to_anna[to_anna.index(again) - 1]
    assert "kinderen" in problem.text
    await say(fake_telegram, ANNA, "1", q("achterstand_bedrag"))


async def test_an_unexpected_error_gets_a_calm_answer(
    fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import commands.status

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("kapot")

    monkeypatch.setattr(commands.status, "status_overview", broken)
    reply = await say(fake_telegram, CARLA, "/status", "ging iets mis")
    assert "Joost van Dam" in reply.text
    # the bot goes on working
    await say(fake_telegram, CARLA, "/help", "Wat kan ik")
