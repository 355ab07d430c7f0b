"""Need-to-know in groups: overviews, timelines, figures, CSV and chart always go privately,
whatever chat they were asked in. A Telegram group hears only "Ik heb het je privé
gestuurd."; on Slack the answer is ephemeral and the files go to the member's DM."""

from __future__ import annotations

import pytest

from bot.telegram import TelegramAdapter
from commands.context import Services
from tests.fakeslack import FakeSlack, SlackBot, all_text
from tests.faketelegram import Call, FakeTelegram
from tests.helpers import file

REF = "RT-2026-0001"
JOOST, CARLA = 5010, 5003  # coördinator; voorzitter Oost
OOST = -1001002  # the Regieteam group
SENT_PRIVATELY = "Ik heb het je privé gestuurd."
CONTENT = ("sendMessage", "sendPhoto", "sendDocument")


def to_chat(fake_telegram: FakeTelegram, chat: int, after: int) -> list[Call]:
    return [c for c in fake_telegram.calls[after:] if c.method in CONTENT and c.chat_id == chat]


async def asked_in_group(fake_telegram: FakeTelegram, user: int, text: str) -> tuple[int, Call]:
    """Type a command in the group; return the mark and the group's one answer."""
    mark = fake_telegram.mark()
    fake_telegram.send_text(user, text, chat_id=OOST)
    said = await fake_telegram.next_call("sendMessage", OOST, after=mark)
    return mark, said


async def test_telegram_rapport_in_a_group_goes_privately(
    services: Services, fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter
) -> None:
    await file(services)
    mark, said = await asked_in_group(fake_telegram, JOOST, "/rapport csv")
    assert said.text == SENT_PRIVATELY
    private = to_chat(fake_telegram, JOOST, mark)
    assert {c.method for c in private} == {"sendMessage", "sendPhoto", "sendDocument"}
    document = next(c for c in private if c.method == "sendDocument")
    assert document.params["document"]["filename"].endswith(".csv")
    assert [c.text for c in to_chat(fake_telegram, OOST, mark)] == [SENT_PRIVATELY]


@pytest.mark.parametrize("command", ["/status", f"/status {REF}", "/status volledig"])
async def test_telegram_status_in_a_group_goes_privately(
    services: Services, fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter, command: str
) -> None:
    await file(services)
    mark, said = await asked_in_group(fake_telegram, CARLA, command)
    assert said.text == SENT_PRIVATELY
    private = to_chat(fake_telegram, CARLA, mark)
    assert private and any(REF in c.text for c in private)
    assert [c.text for c in to_chat(fake_telegram, OOST, mark)] == [SENT_PRIVATELY]
    assert not [c for c in fake_telegram.calls[mark:] if c.method in ("sendPhoto", "sendDocument")
                and c.chat_id == OOST]


async def test_telegram_private_chat_not_started_gets_a_link_only(
    services: Services, fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter
) -> None:
    await file(services)
    fake_telegram.forbidden.add(JOOST)
    mark, said = await asked_in_group(fake_telegram, JOOST, "/rapport")
    assert "start" in said.text.lower() and REF not in said.text
    assert said.markup is not None  # the button to open the private chat
    group = to_chat(fake_telegram, OOST, mark)
    assert [c.method for c in group] == ["sendMessage"]
    assert not [c for c in group if "csv" in c.text.lower()]


async def test_telegram_status_in_the_private_chat_stays_there(
    services: Services, fake_telegram: FakeTelegram, telegram_bot: TelegramAdapter
) -> None:
    await file(services)
    mark = fake_telegram.mark()
    fake_telegram.send_text(CARLA, f"/status {REF}")
    answer = await fake_telegram.next_call("sendMessage", CARLA, after=mark, contains=REF)
    assert SENT_PRIVATELY not in answer.text
    assert not to_chat(fake_telegram, OOST, mark)


# --- Slack -----------------------------------------------------------------------------------


async def test_slack_rapport_in_a_channel_is_ephemeral_and_files_go_to_the_dm(
    slack_bot: SlackBot, fake_slack: FakeSlack, services: Services
) -> None:
    await file(services)
    before = len(fake_slack.of("response_url"))
    await slack_bot.slash("U0JOOST", "/regie", "rapport", channel="C0REGIE")
    done = await fake_slack.wait_for("files.completeUploadExternal", 1, within=20)
    assert all(d.args.get("channel_id") == "DU0JOOST" for d in done)
    answers = fake_slack.of("response_url")[before:]
    assert answers and all(a.args["response_type"] == "ephemeral" for a in answers)
    assert any(SENT_PRIVATELY in all_text(a.args) for a in answers)
    assert not [c for c in fake_slack.of("chat.postMessage") if c.args["channel"] == "C0REGIE"]
    assert not fake_slack.of("chat.postEphemeral") or all(
        c.args["user"] == "U0JOOST" for c in fake_slack.of("chat.postEphemeral"))


@pytest.mark.parametrize("text", ["", REF, "volledig"])
async def test_slack_status_in_a_channel_is_ephemeral(
    slack_bot: SlackBot, fake_slack: FakeSlack, services: Services, text: str
) -> None:
    await file(services)
    before = len(fake_slack.of("response_url"))
    await slack_bot.slash("U0CARLA", "/status", text, channel="C0REGIE")
    answers = await fake_slack.wait_for("response_url", before + 1)
    assert all(a.args["response_type"] == "ephemeral" for a in answers[before:])
    assert REF in " ".join(all_text(a.args) for a in answers[before:])
    assert not [c for c in fake_slack.of("chat.postMessage") if c.args["channel"] == "C0REGIE"]
