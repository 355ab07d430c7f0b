"""Delivering neutral messages to Telegram: groups, forum topics, private chats, edits in place.

- Regieteam and partner → their `telegram_chat`; member → the private chat with their
  `telegram_user`. A message marked `personal` only ever goes to a member's private chat.
- `update_key` "purpose:<id>" edits the message posted before under that key (a tally, the
  agenda); the first time it is sent and remembered. "case_thread:<case id>" opens the case's
  thread: a forum topic when the group has topics, otherwise the message itself, whose
  replies form the thread.
- `thread_case` puts a message in that thread (the topic, or a reply to the case message).
- A private message to a member who never pressed /start fails (Forbidden): their partner
  group is asked to have them press /start, and the Regieteam chair hears the message failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, ReplyParameters
from telegram import Message as TgMessage
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.delivery import Deliveries, DeliveryFailed
from bot.telegram import storage
from commands.context import Services
from commands.organisation import Member
from commands.replies import Action, Message, Outgoing, to_member
from commands.threads import CASE_THREAD, case_reference, case_regieteam, split_update_key
from messages import telegram as tg

log = logging.getLogger(__name__)

NOTICE_TEMPLATES = ("telegram/vraag_start", "telegram/dm_mislukt")


def is_not_started(exc: TelegramError) -> bool:
    """The user blocked the bot or never opened a chat with it."""
    if isinstance(exc, Forbidden):
        return True
    return isinstance(exc, BadRequest) and "chat not found" in exc.message.lower()


class TelegramCourier:
    platform = "telegram"

    def __init__(self, bot: Bot, services: Services, deliveries: Deliveries | None = None) -> None:
        self.bot = bot
        self.services = services
        self.deliveries = deliveries
        self._forums: dict[int, bool] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # --- the Courier protocol -----------------------------------------------------------------

    def chat_for(self, item: Outgoing) -> int | None:
        org = self.services.org
        to = item.to
        if to.kind == "regieteam":
            return org.regieteam(to.id).telegram_chat
        if to.kind == "partner":
            return org.partner(to.id).telegram_chat
        member = org.member(to.id)
        return member.telegram_user if member else None

    def can_reach(self, item: Outgoing) -> bool:
        try:
            return self.chat_for(item) is not None
        except StopIteration:
            return False

    async def deliver(self, item: Outgoing) -> None:
        chat = self.chat_for(item)
        if chat is None:
            raise DeliveryFailed(f"geen Telegram-chat voor {item.to.kind} {item.to.id}")
        if item.message.personal and item.to.kind != "member":
            log.error("persoonlijk bericht %s niet naar een groep gestuurd", item.message.template)
            raise DeliveryFailed("persoonsgegevens gaan nooit naar een groep")
        try:
            await self._deliver(chat, item)
        except TelegramError as exc:
            if item.to.kind == "member" and is_not_started(exc):
                member = self.services.org.member(item.to.id)
                if member is not None and item.message.template not in NOTICE_TEMPLATES:
                    await self.tell_not_started(member, item)
                raise DeliveryFailed(f"{item.to.id} heeft de bot nog niet gestart") from exc
            raise DeliveryFailed(f"Telegram: {type(exc).__name__}") from exc

    async def _deliver(self, chat: int, item: Outgoing) -> None:
        purpose, object_id = split_update_key(item.update_key)
        if purpose is None or object_id is None:
            thread_id, reply_to = await self._place(chat, item, purpose, object_id)
            await self.send(chat, item.message, thread_id=thread_id, reply_to=reply_to)
            return
        # one at a time per message, each made afresh: the last edit shows the latest state
        async with self._locks[f"{purpose}:{object_id}"]:
            message = await item.current()
            ref = await storage.thread_ref(self.services, purpose, object_id)
            if ref is not None and ref.channel == str(chat) and await self.edit(
                chat, int(ref.message_ref), message
            ):
                return
            thread_id, reply_to = await self._place(chat, item, purpose, object_id)
            sent = await self.send(chat, message, thread_id=thread_id, reply_to=reply_to,
                                   single=True)
            await storage.save_thread_ref(self.services, purpose, object_id, chat,
                                          sent[-1].message_id, thread_id)

    async def _place(
        self, chat: int, item: Outgoing, purpose: str | None, object_id: int | None
    ) -> tuple[int | None, int | None]:
        """Where in the chat the message goes: (forum topic, message to reply to)."""
        if purpose == CASE_THREAD and object_id is not None and chat < 0:
            if await self.is_forum(chat):
                return await self._new_topic(chat, object_id), None
            return None, None
        if item.thread_case is None:
            return None, None
        ref = await storage.thread_ref(self.services, CASE_THREAD, item.thread_case)
        if ref is None or ref.channel != str(chat):
            return None, None
        if ref.thread_ref:
            return int(ref.thread_ref), None
        return None, int(ref.message_ref)

    async def is_forum(self, chat: int) -> bool:
        if chat not in self._forums:
            info = await self.bot.get_chat(chat)
            self._forums[chat] = bool(info.is_forum)
        return self._forums[chat]

    async def _new_topic(self, chat: int, case_id: int) -> int:
        reference = await case_reference(self.services, case_id)
        name = tg.label("telegram.topic").format(referentie=reference or case_id)
        topic = await self.bot.create_forum_topic(chat, name[:128])
        return topic.message_thread_id

    # --- sending and editing ------------------------------------------------------------------

    async def keyboard(self, actions: Sequence[Action]) -> InlineKeyboardMarkup | None:
        if not actions:
            return None
        data = {action: await self.action_data(action) for action in actions}
        return tg.action_keyboard(actions, data.__getitem__)

    async def action_data(self, action: Action) -> str:
        """'a|name|value', or 'h|<key>' with the value stored when that is over 64 bytes."""
        try:
            return tg.callback_data("a", action.name, action.value)
        except tg.CallbackDataTooLong:
            digest = await storage.store_button(self.services, action.name, action.value)
            return tg.callback_data("h", digest)

    async def send(
        self, chat: int, message: Message, *, thread_id: int | None = None,
        reply_to: int | None = None, single: bool = False,
        markup: InlineKeyboardMarkup | None = None,
    ) -> list[TgMessage]:
        """Send a message (in pages when long; `single` cuts it to one). Buttons go on the
        last page."""
        text = tg.html(message)
        texts = [tg.cut(text)] if single else tg.pages(text)
        markup = markup or await self.keyboard(message.actions)
        return await self.send_texts(chat, texts, thread_id=thread_id, reply_to=reply_to,
                                     markup=markup)

    async def send_texts(
        self, chat: int, texts: Sequence[str], *, thread_id: int | None = None,
        reply_to: int | None = None, markup: InlineKeyboardMarkup | None = None,
    ) -> list[TgMessage]:
        sent = []
        for index, text in enumerate(texts):
            last = index == len(texts) - 1
            options: dict[str, Any] = {}
            if reply_to is not None:
                options["reply_parameters"] = ReplyParameters(
                    reply_to, allow_sending_without_reply=True)
            sent.append(await self.bot.send_message(
                chat, text, parse_mode=ParseMode.HTML, message_thread_id=thread_id,
                reply_markup=markup if last else None, disable_web_page_preview=True,
                **options,
            ))
        return sent

    async def edit(self, chat: int, message_id: int, message: Message) -> bool:
        """Edit in place; False when the message is gone (then it is sent anew)."""
        text = tg.cut(tg.html(message))
        markup = await self.keyboard(message.actions)
        try:
            await self.bot.edit_message_text(
                text, chat_id=chat, message_id=message_id, parse_mode=ParseMode.HTML,
                reply_markup=markup, disable_web_page_preview=True,
            )
        except BadRequest as exc:
            reason = exc.message.lower()
            if "not modified" in reason:
                return True
            if "not found" in reason or "can't be edited" in reason:
                return False
            raise
        return True

    # --- a member who never pressed /start ----------------------------------------------------

    async def tell_not_started(self, member: Member, item: Outgoing) -> None:
        """Ask the member's partner group to have them press /start; tell the chair (once a day)."""
        org = self.services.org
        if not await storage.first_time(
            self.services, f"niet_gestart:{member.id}:{self.services.today().isoformat()}"
        ):
            return
        reference = item.message.data.get("referentie")
        bot_name = self._username()
        partner = org.partner(member.partner)
        if partner.telegram_chat is not None:
            notice = Message("telegram/vraag_start", {"naam": member.name, "bot": bot_name})
            link = f"https://t.me/{bot_name}?start=start" if bot_name else None
            markup = InlineKeyboardMarkup([[tg.url_button(tg.label("telegram.open_chat"), link)]]) \
                if link else None
            try:
                await self.send(partner.telegram_chat, notice, markup=markup)
            except TelegramError:
                log.warning("partnergroep %s niet bereikt", partner.id)
        if self.deliveries is None:
            return
        teams = await self._teams_for(member, item)
        chairs = {chair.id: chair for team in teams for chair in org.chairs(team)}
        for chair in chairs.values():
            if chair.id == member.id:
                continue
            notice = Message("telegram/dm_mislukt", {
                "naam": member.name, "partner": partner.name, "referentie": reference,
            })
            await self.deliveries.send(self.services, [Outgoing(to_member(chair.id), notice)])

    def _username(self) -> str:
        try:
            return str(self.bot.username)
        except RuntimeError:  # not initialised (no getMe yet)
            return ""

    async def _teams_for(self, member: Member, item: Outgoing) -> list[str]:
        org = self.services.org
        case_id = item.thread_case
        reference = item.message.data.get("referentie")
        team = await case_regieteam(self.services, case_id=case_id,
                                    reference=reference if isinstance(reference, str) else None)
        if team:
            return [team]
        if member.regieteams:
            return list(member.regieteams)
        return [t.id for t in org.regieteams]
