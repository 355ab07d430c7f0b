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

Pacing (`ChatPacer`, the Bot's rate limiter, so every call of the bot is counted): at most 20
messages a minute per group chat and 30 a second overall; private chats only have the overall
limit. A `RetryAfter` (429 with `retry_after`) holds only the chat it came from for that long,
then the call is tried again, at most `MAX_RETRIES` times; after that, or when Telegram asks
for a wait longer than `MAX_RETRY_AFTER`, the delivery fails (DeliveryFailed) and is left to the
outbox. Other chats go on meanwhile. python-telegram-bot's own `AIORateLimiter` has the same
two limits but halts every chat on a `RetryAfter`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any, TypeGuard

from aiolimiter import AsyncLimiter
from telegram import Bot, InlineKeyboardMarkup, ReplyParameters
from telegram import Message as TgMessage
from telegram.constants import FloodLimit, ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.delivery import Deliveries, DeliveryFailed
from bot.telegram import storage
from commands.context import Services
from commands.organisation import Member
from commands.replies import Action, Message, Outgoing, to_member
from commands.threads import CASE_THREAD, case_reference, case_regieteam, split_update_key
from messages import telegram as tg

log = logging.getLogger(__name__)

NOTICE_TEMPLATES = ("telegram/vraag_start", "telegram/dm_mislukt")

PER_SECOND = int(FloodLimit.MESSAGES_PER_SECOND)  # 30, all chats together
PER_GROUP = int(FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP)  # 20 a minute in one group chat
GROUP_PERIOD = 60.0
MAX_RETRIES = 3  # tries after a RetryAfter, on top of the first call
MAX_RETRY_AFTER = 60.0  # seconds; a longer wait is left to the outbox

ChatKey = int | str | None
ApiCall = Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]]


def retry_seconds(exc: RetryAfter) -> float:
    """The wait a RetryAfter asks for, in seconds (an int or a timedelta, by PTB's setting)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def chat_key(chat_id: object) -> ChatKey:
    """The chat a call goes to: an int id (groups are negative), an @name, or None."""
    if chat_id is None or isinstance(chat_id, int):
        return chat_id
    try:
        return int(str(chat_id))
    except ValueError:
        return str(chat_id)


def is_group(chat: ChatKey) -> TypeGuard[int | str]:
    """Groups and channels: a negative id, or an @name (only those have one)."""
    return isinstance(chat, str) or (isinstance(chat, int) and chat < 0)


class ChatPacer(BaseRateLimiter[int]):
    """The Bot's rate limiter: Telegram's limits per group and overall, RetryAfter per chat
    (see the module's docstring). `rate_limit_args` of a call overrides `max_retries`."""

    def __init__(
        self, *, per_second: float = PER_SECOND, per_group: float = PER_GROUP,
        group_period: float = GROUP_PERIOD, max_retries: int = MAX_RETRIES,
        max_retry_after: float = MAX_RETRY_AFTER,
    ) -> None:
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self._overall = AsyncLimiter(per_second, 1)
        self._per_group = per_group
        self._group_period = group_period
        self._groups: dict[int | str, AsyncLimiter] = {}
        self._not_before: dict[ChatKey, float] = {}
        self._waiting: Counter[ChatKey] = Counter()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self, callback: ApiCall, args: Any, kwargs: dict[str, Any], endpoint: str,
        data: dict[str, Any], rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat = chat_key(data.get("chat_id"))
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        for attempt in range(retries + 1):
            try:
                await self._paced(chat)
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                # the chat waits, also for the calls after this one
                until = time.monotonic() + wait
                self._not_before[chat] = max(until, self._not_before.get(chat, 0.0))
                if attempt == retries or wait > self.max_retry_after:
                    log.warning("Telegram vraagt om minder berichten (%s); na %d pogingen "
                                "opgegeven", endpoint, attempt + 1)
                    raise
                log.info("Telegram vraagt om minder berichten (%s); over %.1f s opnieuw",
                         endpoint, wait)
        raise AssertionError("unreachable")

    def waiting(self, chat: ChatKey) -> int:
        """How many calls for `chat` are waiting for their turn now."""
        return self._waiting[chat]

    async def _paced(self, chat: ChatKey) -> None:
        """Wait until a call for `chat` may go: its RetryAfter, its group limit, the overall one."""
        self._waiting[chat] += 1
        try:
            await self._held(chat)
            if is_group(chat):
                await self._group(chat).acquire()
                await self._held(chat)  # a RetryAfter may have come in meanwhile
            if chat is not None:
                await self._overall.acquire()
        finally:
            self._waiting[chat] -= 1
            if not self._waiting[chat]:
                del self._waiting[chat]

    async def _held(self, chat: ChatKey) -> None:
        """Wait out a RetryAfter of this chat (only this chat)."""
        while chat in self._not_before:
            rest = self._not_before[chat] - time.monotonic()
            if rest <= 0:
                del self._not_before[chat]
                return
            if rest > self.max_retry_after:
                raise RetryAfter(int(rest) + 1)
            await asyncio.sleep(rest)  # then look again: the hold may have been extended

    def _group(self, chat: int | str) -> AsyncLimiter:
        limiter = self._groups.get(chat)
        if limiter is None:
            if len(self._groups) > 512:  # forget groups whose capacity is full again
                for key, idle in list(self._groups.items()):
                    if idle.has_capacity(idle.max_rate):
                        del self._groups[key]
            limiter = self._groups[chat] = AsyncLimiter(self._per_group, self._group_period)
        return limiter


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
        except RetryAfter as exc:
            raise DeliveryFailed("Telegram: te veel berichten (RetryAfter)") from exc
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
