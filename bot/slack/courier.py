"""SlackCourier: delivers neutral `Outgoing` messages to Slack channels, threads and DMs.

- Regieteam and partner destinations go to their `slack_channel`, members to a DM.
- `thread_case` puts the message in the case's thread; the first such message in the
  Regieteam channel starts the thread (stored as ThreadRef purpose "case_thread").
- `update_key` "purpose:<id>" edits the earlier message in place (`chat.update`).
- A message marked `personal` only goes to a member's DM, never to a channel.
- Posts to one channel are paced (Slack allows about one message per second per channel); the
  slots are reserved in the database, so several bot processes share one pace.
- At most once, even when Slack's answer comes late: every message carries a marker in its
  message metadata, its `update_key` or else its outbox id ("bericht:<id>"). When an earlier
  attempt ended without a clear answer (a timeout, a dropped connection, a 5xx), the courier
  first looks for the marker in the channel's recent history (or the thread's replies) and,
  when found, keeps that message instead of posting a second one. A long message posted in
  several parts carries the marker on each part; when the first part is found, the rest is
  taken to have arrived too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import DeliveryFailed
from commands.context import Services
from commands.organisation import Member
from commands.replies import Attachment, Destination, Message, Outgoing
from commands.threads import CASE_THREAD, ThreadPlace, find_place, record_place
from messages.slack import SlackMessage, slack_message, slack_pages
from store.locks import named_lock
from store.pacing import reserve_slot

log = logging.getLogger(__name__)
PLATFORM = "slack"
MARKER_TYPE = "regiebot_bericht"
OUTBOX_MARKER = "bericht"  # marker "bericht:<outbox id>" on a post that is not edited later
HISTORY_LOOKBACK = 100


def make_web_client(
    token: str, base_url: str, *, rate_limit_retries: int = 3, timeout: int = 30,
    keep_open: bool = False,
) -> AsyncWebClient:
    """The Web API client. It retries a 429 (Slack did nothing) and a connection that could
    not be made (nothing was sent), but never a connection dropped after sending: Slack may
    have posted the message, and only the courier can check that (see the module doc).

    `keep_open`: the client gets a session of its own that keeps its connections to Slack
    open, so a call needs no new TCP and TLS handshake (without one, slack_sdk opens a new
    connection for every call). Its owner closes `client.session`; a kept-open connection that
    Slack closed counts as dropped too."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) if keep_open else None
    return AsyncWebClient(
        token=token, base_url=base_url, timeout=timeout, session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2,
                                             error_types=[aiohttp.ClientConnectorError]),
            AsyncRateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
        ],
    )


PLACES_KEPT = 10_000  # message places remembered per process


class SlackCourier:
    platform = PLATFORM

    def __init__(self, services: Services, client: AsyncWebClient, pace_seconds: float = 1.0) -> None:
        self.services = services
        self.client = client
        self.pace_seconds = pace_seconds
        self._dm_channels: dict[str, str] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._next_post: dict[str, float] = {}
        self._uncertain: set[str] = set()  # update keys whose last post got no clear answer
        # Where messages are. On Slack a recorded place never changes (a message is edited,
        # never posted anew), so once found it is kept: a tally edit needs no lookup.
        self._places: dict[tuple[str, int], ThreadPlace] = {}

    # --- routing -------------------------------------------------------------------------
    def channel_of(self, to: Destination) -> str | None:
        org = self.services.org
        try:
            if to.kind == "regieteam":
                return org.regieteam(to.id).slack_channel
            if to.kind == "partner":
                return org.partner(to.id).slack_channel
        except StopIteration:
            return None
        member = org.member(to.id)
        return member.slack_user if member else None

    def can_reach(self, item: Outgoing) -> bool:
        if item.message.personal and item.to.kind != "member":
            return False
        return self.channel_of(item.to) is not None

    # --- delivering ----------------------------------------------------------------------
    async def deliver(self, item: Outgoing) -> None:
        if not self.can_reach(item):
            raise DeliveryFailed(f"geen Slack-kanaal voor {item.to.kind} {item.to.id}")
        try:
            await self._deliver(item)
        except SlackApiError as exc:
            if item.update_key and _may_have_arrived(exc):
                self._uncertain.add(item.update_key)
            raise DeliveryFailed(f"slack: {_slack_error(exc)}") from exc
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            if item.update_key:
                self._uncertain.add(item.update_key)
            raise DeliveryFailed(f"slack: {type(exc).__name__}") from exc
        if item.update_key:
            self._uncertain.discard(item.update_key)

    async def _deliver(self, item: Outgoing) -> None:
        target = self.channel_of(item.to)
        assert target is not None
        channel = await self.dm_channel(target) if item.to.kind == "member" else target
        if item.update_key and (key := _parse_update_key(item.update_key)):
            await self._post_or_update(key, channel, item)
            return
        thread_ts, starts_thread = await self._thread_of(item, channel)
        marker = f"{OUTBOX_MARKER}:{item.outbox_id}" if item.outbox_id is not None else None
        if starts_thread and item.thread_case is not None:
            place = f"{CASE_THREAD}:{item.thread_case}"
            async with self._locks[place], named_lock(self.services.sessions, f"slack:{place}"):
                ref = await self._ref(CASE_THREAD, item.thread_case)
                if ref is not None:
                    await self._post_once(channel, item, ref.message_ref, marker)
                    return
                ts = await self._post_once(channel, item, None, marker)
                await self._store(CASE_THREAD, item.thread_case, channel, ts, None)
            return
        await self._post_once(channel, item, thread_ts, marker)

    async def _post_once(self, channel: str, item: Outgoing, thread_ts: str | None,
                         marker: str | None) -> str:
        """Post a message from the outbox; when an earlier attempt may have arrived, first
        look for it (by its marker) and keep that one instead of posting a second."""
        if marker and item.retry and (ts := await self._marked(marker, channel, thread_ts)):
            log.info("slack: bericht stond er al; niet opnieuw geplaatst")
            return ts
        return await self.post(channel, item.message, thread_ts=thread_ts, marker=marker)

    async def _thread_of(self, item: Outgoing, channel: str) -> tuple[str | None, bool]:
        """The thread a message goes in (its case's, in that case's channel), and whether it
        starts that thread (there is none yet)."""
        if item.thread_case is None or item.to.kind != "regieteam":
            return None, False
        ref = await self._ref(CASE_THREAD, item.thread_case)
        if ref is None:
            return None, True
        return (ref.message_ref if ref.channel == channel else None), False

    async def _post_or_update(self, key: tuple[str, int], channel: str, item: Outgoing) -> None:
        purpose, object_id = key
        marker = f"{purpose}:{object_id}"
        # First in this process, then across processes: another replica may be posting the
        # same message right now, and it must be posted once and then updated.
        async with (self._locks[marker],
                    named_lock(self.services.sessions, f"slack:{marker}") as held):
            ref = await self._ref(purpose, object_id)
            thread_ts = None
            if ref is None:  # an edit needs only where the message is, not its thread
                thread_ts, _ = await self._thread_of(item, channel)
                if item.retry or marker in self._uncertain:
                    ref = await self._earlier_copy(marker, channel, thread_ts)
            message = await item.current(held)  # under the lock: the last one is the latest
            if ref is not None:
                await self.client.chat_update(channel=ref.channel, ts=ref.message_ref,
                                              **slack_message(message).as_kwargs())
                return
            ts = await self.post(channel, message, thread_ts=thread_ts, single=True,
                                 marker=marker)
            await self._store(purpose, object_id, channel, ts, thread_ts)
            if (item.thread_case is not None and thread_ts is None and purpose != CASE_THREAD
                    and item.to.kind == "regieteam"):
                await self._store(CASE_THREAD, item.thread_case, channel, ts, None)

    async def _earlier_copy(self, marker: str, channel: str, thread_ts: str | None) -> ThreadPlace | None:
        """The message posted earlier under `marker`, found in the channel's recent history or
        the thread's replies; it is recorded as the reference, so it is updated from now on."""
        ts = await self._marked(marker, channel, thread_ts)
        if ts is None:
            return None
        log.info("slack: %s stond er al; niet opnieuw geplaatst", marker.split(":")[0])
        purpose, _, object_id = marker.partition(":")
        await self._store(purpose, int(object_id), channel, ts, thread_ts)
        return await self._ref(purpose, int(object_id))

    async def _marked(self, marker: str, channel: str, thread_ts: str | None) -> str | None:
        """The ts of the message carrying `marker` in the channel's recent history (or the
        thread's replies), if there is one."""
        if thread_ts:
            response = await self.client.conversations_replies(
                channel=channel, ts=thread_ts, limit=HISTORY_LOOKBACK, include_all_metadata=True)
        else:
            response = await self.client.conversations_history(
                channel=channel, limit=HISTORY_LOOKBACK, include_all_metadata=True)
        for found in response.get("messages") or []:
            metadata = found.get("metadata") or {}
            if (metadata.get("event_type") == MARKER_TYPE
                    and (metadata.get("event_payload") or {}).get("sleutel") == marker):
                return str(found["ts"])
        return None

    async def post(
        self, channel: str, message: Message, *, thread_ts: str | None = None, single: bool = False,
        marker: str | None = None,
    ) -> str:
        """Post a message (paged when long, or cut when `single`); return the first ts."""
        pages = [slack_message(message)] if single else slack_pages(message)
        first = ""
        for page in pages:
            ts = await self._post_page(channel, page, thread_ts, marker)
            first = first or ts
        return first

    async def _post_page(
        self, channel: str, page: SlackMessage, thread_ts: str | None, marker: str | None = None
    ) -> str:
        extra: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        if marker:
            extra["metadata"] = {"event_type": MARKER_TYPE, "event_payload": {"sleutel": marker}}
        async with self._paced(channel):
            response = await self.client.chat_postMessage(
                channel=channel, unfurl_links=False, unfurl_media=False, **page.as_kwargs(),
                **extra)
        return str(response["ts"])

    @contextlib.asynccontextmanager
    async def _paced(self, channel: str) -> AsyncIterator[None]:
        """Post in this channel's next slot. The slots are shared through the database by
        every bot process; within this process posts to a channel go one at a time, and the
        next one waits a full pace after the previous one was answered, so a post that was
        slow to leave cannot arrive right before the next (wall-clock time: a rate limit, not
        the domain clock)."""
        if self.pace_seconds <= 0:
            yield
            return
        async with self._locks[f"pace:{channel}"]:
            async with self.services.transaction() as session:
                slot = await reserve_slot(session, PLATFORM, channel, datetime.now(UTC),
                                          timedelta(seconds=self.pace_seconds))
            wait = max((slot - datetime.now(UTC)).total_seconds(),
                       self._next_post.get(channel, 0.0) - time.monotonic())
            if wait > 0:
                await asyncio.sleep(wait)  # the pace itself, not a wait for something to happen
            try:
                yield
            finally:
                self._next_post[channel] = time.monotonic() + self.pace_seconds

    # --- members ---------------------------------------------------------------------------
    async def dm_channel(self, slack_user: str) -> str:
        if slack_user not in self._dm_channels:
            response = await self.client.conversations_open(users=slack_user)
            self._dm_channels[slack_user] = str(response["channel"]["id"])
        return self._dm_channels[slack_user]

    async def upload_to_member(self, member: Member, files: list[Attachment]) -> None:
        if not member.slack_user or not files:
            return
        channel = await self.dm_channel(member.slack_user)
        for attachment in files:
            await self.client.files_upload_v2(
                channel=channel, filename=attachment.filename, content=attachment.content,
                title=attachment.title,
            )

    # --- thread references -------------------------------------------------------------------
    async def _ref(self, purpose: str, object_id: int) -> ThreadPlace | None:
        if (known := self._places.get((purpose, object_id))) is not None:
            return known
        found = await find_place(self.services, PLATFORM, purpose, object_id)
        if found is not None:
            if len(self._places) >= PLACES_KEPT:
                del self._places[next(iter(self._places))]  # the oldest
            self._places[(purpose, object_id)] = found
        return found

    async def _store(
        self, purpose: str, object_id: int, channel: str, ts: str, thread_ts: str | None
    ) -> None:
        if not await record_place(self.services, PLATFORM, purpose, object_id,
                                  ThreadPlace(channel, ts, thread_ts)):
            log.info("slack: %s %s was al vastgelegd door een ander proces", purpose, object_id)


def _slack_error(exc: SlackApiError) -> str:
    """Slack's error code; an answer that is no JSON (a plain-text 500) gives its status."""
    data = exc.response.data
    if isinstance(data, dict):
        return str(data.get("error") or "fout")
    return f"HTTP {exc.response.status_code}"


def _may_have_arrived(exc: SlackApiError) -> bool:
    """A JSON error answer means the message was refused; anything else leaves it open."""
    return not isinstance(exc.response.data, dict) or exc.response.status_code >= 500


def _parse_update_key(key: str) -> tuple[str, int] | None:
    purpose, _, raw_id = key.partition(":")
    if not purpose or not raw_id.isdigit() or len(purpose) > 24:
        return None
    return purpose, int(raw_id)
