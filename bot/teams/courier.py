"""Delivering neutral messages to Microsoft Teams through the connector service.

- Regieteam and partner → their `teams_channel`. A post is a new conversation in the channel
  (a Teams channel post); a case's post (`update_key` "case_thread:<id>") is remembered, and
  messages for the case (`thread_case`) are replies to it: its thread.
- `update_key` "purpose:<id>" updates the message posted before under that key in place
  (update activity); the first time it is posted and remembered (ThreadRef rows, platform
  "teams": channel = channel id, message_ref = activity id, thread_ref = the thread's root).
- Member → their 1:1 chat: the one in memory, else the one stored in the database (captured
  when they wrote to the bot or installed the app, by any process, before any restart: see
  `bot.teams.chats`), else a 1:1 conversation the bot opens with their `teams_user` (Teams
  answers with the same one), which is then stored too.
- A message marked `personal` only ever goes to a member's 1:1 chat.
- Rate limits: the connector answers 429 with Retry-After when a conversation gets too much.
  The courier then waits that long before the next call in that conversation (other
  conversations go on), tries again up to MAX_ATTEMPTS times in all, and then raises
  DeliveryFailed so the outbox tries later. A Retry-After over MAX_RETRY_AFTER is not waited
  for here.
- App not installed: when a post in a channel gets 403 or 404, the app is not (or no longer)
  in that team. This is logged once in Dutch (where: the Regieteam or partner, the team and
  channel id; never a token), kept in `missing` for the health check, and `on_missing` is
  told once (the adapter tells the coordinators). A later post that succeeds clears it.

Outbound uses the Agents SDK's connector client with the bot's own token (client credentials).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
from microsoft_agents.activity import Activity, ConversationParameters
from microsoft_agents.hosting.core.connector.client import ConnectorClient

from bot.teams.auth import BotCredentials, TokenRejected
from bot.teams.chats import Conversation, forget_chat, load_chat, save_chat
from commands.context import Services
from commands.courier import DeliveryFailed
from commands.organisation import TeamsChannel
from commands.replies import Message, Outgoing
from commands.threads import CASE_THREAD, ThreadPlace, find_place, record_place, split_update_key
from messages import teams as render

log = logging.getLogger(__name__)

PLATFORM = "teams"
MAX_ATTEMPTS = 4  # one call and three retries after a 429
MAX_RETRY_AFTER = 60.0  # seconds; a longer wait is left to the outbox
DEFAULT_RETRY_AFTER = 1.0  # when a 429 names no Retry-After

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
NOT_INSTALLED = (403, 404)


class _NotInstalled(Exception):
    """The connector refused a new post in a channel (403/404)."""


@dataclass(frozen=True)
class Missing:
    """A channel the bot cannot post in because the app is not in its team."""

    kind: str  # "regieteam" or "partner"
    id: str
    name: str
    team: str
    channel: str


def thread_conversation(channel: str, root: str) -> str:
    """The conversation id of a channel post's thread."""
    return f"{channel};messageid={root}"


class TeamsCourier:
    platform = PLATFORM

    def __init__(self, services: Services, credentials: BotCredentials, *, app_id: str,
                 tenant_id: str | None, service_url: str, sleep: Sleep = asyncio.sleep) -> None:
        self.services = services
        self.credentials = credentials
        self.app_id = app_id
        self.tenant_id = tenant_id
        self.service_url = service_url
        # members' 1:1 chats seen by this process (member id → conversation); the database
        # holds them for every process (`bot.teams.chats`)
        self.personal: dict[str, Conversation] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.sleep = sleep
        # conversation (or channel) → monotonic time before which the connector asked for rest
        self._not_before: dict[str, float] = {}
        # channel id → where the app is missing (see the module's docstring)
        self.missing: dict[str, Missing] = {}
        self.on_missing: Callable[[Missing], Awaitable[None]] | None = None

    # --- the Courier protocol -----------------------------------------------------------------

    def channel_for(self, item: Outgoing) -> TeamsChannel | None:
        org = self.services.org
        try:
            if item.to.kind == "regieteam":
                return org.regieteam(item.to.id).teams_channel
            if item.to.kind == "partner":
                return org.partner(item.to.id).teams_channel
        except StopIteration:
            return None
        return None

    def can_reach(self, item: Outgoing) -> bool:
        if item.to.kind == "member":
            member = self.services.org.member(item.to.id)
            return member is not None and (member.teams_user is not None
                                           or member.id in self.personal)
        return self.channel_for(item) is not None

    async def deliver(self, item: Outgoing) -> None:
        if item.message.personal and item.to.kind != "member":
            log.error("persoonlijk bericht %s niet naar een kanaal gestuurd", item.message.template)
            raise DeliveryFailed("persoonsgegevens gaan nooit naar een kanaal")
        try:
            if item.to.kind == "member":
                await self._deliver_to_member(item)
                return
            channel = self.channel_for(item)
            if channel is None:
                raise DeliveryFailed(f"geen Teams-kanaal voor {item.to.kind} {item.to.id}")
            try:
                await self._deliver_to_channel(channel, item)
            except _NotInstalled as exc:
                await self._app_missing(item, channel)
                raise DeliveryFailed("Teams: de app staat niet in dit team") from exc
            self.missing.pop(channel.channel, None)
        except (aiohttp.ClientError, TimeoutError, TokenRejected, ValueError) as exc:
            raise DeliveryFailed(f"Teams: {type(exc).__name__}") from exc

    async def _app_missing(self, item: Outgoing, channel: TeamsChannel) -> None:
        if channel.channel in self.missing:
            return  # said once
        org = self.services.org
        name = (org.regieteam(item.to.id).name if item.to.kind == "regieteam"
                else org.partner(item.to.id).name)
        missing = Missing(item.to.kind, item.to.id, name, channel.team, channel.channel)
        self.missing[channel.channel] = missing
        log.error("De Teams-app staat niet in het team van %s %s (team %s, kanaal %s). "
                  "Voeg de app toe aan dat team; tot dan komen berichten daar niet aan.",
                  item.to.kind, item.to.id, channel.team, channel.channel)
        if self.on_missing is not None:
            try:
                await self.on_missing(missing)
            except Exception:
                log.exception("melden dat de Teams-app ontbreekt is mislukt")

    def status(self) -> dict[str, Any]:
        """For the health check: where the app is missing (names and ids, nothing else)."""
        return {"ok": True, "mode": "http",
                "app_ontbreekt": [f"{m.kind} {m.id} (team {m.team}, kanaal {m.channel})"
                                  for m in self.missing.values()]}

    # --- members ------------------------------------------------------------------------------

    async def remember_personal(self, member_id: str, conversation: Conversation) -> None:
        """Keep the member's 1:1 chat, in memory and (when it is new or changed) in the
        database. A failure to store it is logged: the member is still answered."""
        if self.personal.get(member_id) == conversation:
            return
        self.personal[member_id] = conversation
        try:
            if await load_chat(self.services, member_id) != conversation:
                await save_chat(self.services, member_id, conversation)
        except Exception as exc:  # the database: the chat can be opened again later
            log.warning("privégesprek van %s niet bewaard (%s)", member_id, type(exc).__name__)

    async def forget_personal(self, member_id: str) -> None:
        """The member removed the app: their 1:1 chat is gone."""
        self.personal.pop(member_id, None)
        await forget_chat(self.services, member_id)

    async def _deliver_to_member(self, item: Outgoing) -> None:
        conversation = await self.personal_chat(item.to.id)
        await self.send(conversation, item.message)

    async def personal_chat(self, member_id: str) -> Conversation:
        """The member's 1:1 chat: in memory, else stored, else opened now (and stored)."""
        known = self.personal.get(member_id) or await load_chat(self.services, member_id)
        if known is not None:
            self.personal[member_id] = known
            return known
        conversation = await self._open_personal_chat(member_id)
        await self.remember_personal(member_id, conversation)
        return conversation

    async def _open_personal_chat(self, member_id: str) -> Conversation:
        member = self.services.org.member(member_id)
        if member is None or member.teams_user is None:
            raise DeliveryFailed(f"geen Teams-gebruiker voor {member_id}")
        parameters = ConversationParameters.model_validate({
            "isGroup": False, "bot": {"id": self.app_id},
            "members": [{"id": member.teams_user}], "tenantId": self.tenant_id,
        })
        created = await self._call(self.service_url, f"1:1 {member_id}",
                                   lambda c: c.conversations.create_conversation(parameters))
        return Conversation(self.service_url, created.id)

    # --- channels -----------------------------------------------------------------------------

    async def _deliver_to_channel(self, channel: TeamsChannel, item: Outgoing) -> None:
        purpose, object_id = split_update_key(item.update_key)
        if purpose is None or object_id is None:
            await self._post(channel, item.message, item.thread_case)
            return
        # one at a time per message, each made afresh: the last update shows the latest state
        async with self._locks[f"{purpose}:{object_id}"]:
            message = await item.current()
            place = await find_place(self.services, PLATFORM, purpose, object_id)
            if place is not None and place.channel == channel.channel:
                await self.update(channel, place, message)
                return
            root, activity_id = await self._post(channel, message, item.thread_case)
            thread = root if root != activity_id else None
            await record_place(self.services, PLATFORM, purpose, object_id,
                               ThreadPlace(channel.channel, activity_id, thread), move=True)

    async def _post(self, channel: TeamsChannel, message: Message,
                    thread_case: int | None) -> tuple[str, str]:
        """Post in the case's thread when there is one, else as a new channel post.
        Returns (root of the thread, id of the posted activity)."""
        if thread_case is not None:
            place = await find_place(self.services, PLATFORM, CASE_THREAD, thread_case)
            if place is not None and place.channel == channel.channel:
                root = place.message_ref
                sent = await self.send(
                    Conversation(self.service_url, thread_conversation(channel.channel, root)),
                    message)
                return root, sent
        return await self.new_post(channel, message)

    async def new_post(self, channel: TeamsChannel, message: Message) -> tuple[str, str]:
        parameters = ConversationParameters.model_validate({
            "isGroup": True, "bot": {"id": self.app_id}, "tenantId": self.tenant_id,
            "channelData": {"channel": {"id": channel.channel}, "team": {"id": channel.team},
                            **({"tenant": {"id": self.tenant_id}} if self.tenant_id else {})},
            "activity": render.activity(message),
        })
        try:
            created = await self._call(self.service_url, channel.channel,
                                       lambda c: c.conversations.create_conversation(parameters))
        except aiohttp.ClientResponseError as exc:
            # a new post refused: the app is not in the channel's team (a 404 on an update
            # only means that message is gone)
            if exc.status in NOT_INSTALLED:
                raise _NotInstalled from exc
            raise
        root = created.activity_id or created.id.rpartition("messageid=")[2]
        if not root:
            raise DeliveryFailed("Teams gaf geen id van het bericht terug")
        return root, root

    async def update(self, channel: TeamsChannel, place: ThreadPlace, message: Message) -> None:
        root = place.thread_ref or place.message_ref
        body = Activity.model_validate({**render.activity(message), "id": place.message_ref})
        await self._call(self.service_url, channel.channel,
                         lambda c: c.conversations.update_activity(
                             thread_conversation(channel.channel, root), place.message_ref,
                             body))

    # --- sending ------------------------------------------------------------------------------

    async def send(self, conversation: Conversation, message: Message) -> str:
        """Post the message in the conversation; the id of the posted activity."""
        body = Activity.model_validate(render.activity(message))
        sent = await self._call(conversation.service_url, _pace_key(conversation.id),
                                lambda c: c.conversations.send_to_conversation(
                                    conversation.id, body))
        return sent.id or ""

    async def reply(self, conversation: Conversation, to_activity: str, message: Message,
                    extra: dict[str, Any] | None = None) -> str:
        body = Activity.model_validate({**render.activity(message), **(extra or {})})
        sent = await self._call(conversation.service_url, _pace_key(conversation.id),
                                lambda c: c.conversations.reply_to_activity(
                                    conversation.id, to_activity, body))
        return sent.id or ""

    async def send_body(self, conversation: Conversation, body: dict[str, Any]) -> str:
        """Post an activity built elsewhere (a form's card); the id of the posted activity."""
        made = Activity.model_validate(body)
        sent = await self._call(conversation.service_url, _pace_key(conversation.id),
                                lambda c: c.conversations.send_to_conversation(
                                    conversation.id, made))
        return sent.id or ""

    async def update_body(self, conversation: Conversation, activity_id: str,
                          body: dict[str, Any]) -> None:
        """Replace activity `activity_id` in the conversation (a form's card) with `body`."""
        made = Activity.model_validate({**body, "id": activity_id})
        await self._call(conversation.service_url, _pace_key(conversation.id),
                         lambda c: c.conversations.update_activity(
                             conversation.id, activity_id, made))

    async def _call(self, service_url: str, pace: str,
                    call: Callable[[ConnectorClient], Awaitable[T]]) -> T:
        """One connector call for conversation `pace`, retried after a 429 as the connector's
        Retry-After says (see the module's docstring)."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            rest = self._not_before.get(pace, 0.0) - time.monotonic()
            if rest > 0:
                await self.sleep(rest)
            try:
                async with await self._client(service_url) as client:
                    done = await call(client)
            except aiohttp.ClientResponseError as exc:
                if exc.status != 429:
                    raise
                wait = retry_after(exc.headers)
                if attempt == MAX_ATTEMPTS or wait > MAX_RETRY_AFTER:
                    log.warning("Teams vraagt om minder berichten; na %d pogingen opgegeven",
                                attempt)
                    raise DeliveryFailed("Teams: te veel berichten (429)") from exc
                log.info("Teams vraagt om minder berichten; over %.1f s opnieuw", wait)
                self._not_before[pace] = time.monotonic() + wait
                continue  # the wait is at the top of the loop, for every call in `pace`
            self._not_before.pop(pace, None)
            return done
        raise AssertionError("unreachable")

    async def _client(self, service_url: str) -> _Client:
        return _Client(ConnectorClient(service_url, await self.credentials.token()))


class _Client:
    """The SDK's connector client, closed after use (it holds an HTTP session)."""

    def __init__(self, client: ConnectorClient) -> None:
        self.client = client

    async def __aenter__(self) -> ConnectorClient:
        return self.client

    async def __aexit__(self, *_exc: object) -> None:
        await self.client.close()


def _pace_key(conversation_id: str) -> str:
    """Teams limits a channel with its threads as one conversation."""
    return conversation_id.partition(";messageid=")[0]


def retry_after(headers: Mapping[str, str] | None) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    raw = (headers or {}).get("Retry-After", "").strip()
    if not raw:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
