"""The outbox: every message the bot sends to a channel or a member goes through it.

- A command writes its messages with `queue` in the same transaction as the change that causes
  them: once the change is stored, so are its messages, whatever the platform does next.
- The door that ran the command sends them at once (`send_now`); what cannot be sent then
  (a platform error, a crash) is sent by the dispatcher (`dispatch_outbox`), which the
  scheduler runs every minute, with retries and backoff. After MAX_ATTEMPTS the message is
  given up and the coordinators are told, as for reminders.
- Rows are claimed atomically before they are sent, so two senders never send one row. The
  door that sends a request's messages right after its change (`Request.sender`) has them
  queued claimed for it, in the change's own transaction: no separate claim. A row
  that was tried before, or whose sender stopped while it had it, goes out marked `retry`: a
  courier that can look (Slack) first checks whether the earlier attempt arrived after all.
- Messages to one destination keep their order: while an older one waits for its retry, the
  newer ones wait behind it (a case's thread is started by its own first message, not by a
  tally that overtook it). Other destinations go on.
- An edit in place (a tally, `update_key`) replaces a waiting older version of the same
  message: only the latest is sent. A tally is made afresh just before it is sent.
- What a message says is stored encrypted; finished rows are deleted after FINISHED_KEPT.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, bindparam, delete, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from commands import audit
from commands.cases import dialect_of
from commands.context import Services, aware
from commands.courier import DeliveryFailed, NoRoute, Sender
from commands.dedupe import Repeated, record_key
from commands.dispatcher import CLAIM_TIMEOUT, MAX_ATTEMPTS, backoff, per_destination
from commands.replies import Action, Destination, Message, Outgoing, Result, ViewToRecord, to_member
from store.models import OutboxMessage

log = logging.getLogger(__name__)

BATCH = 100
FINISHED_KEPT = timedelta(days=7)
REPLACED = "vervangen door een nieuwere versie"
NO_ROUTE = "geen kanaal voor deze bestemming"
REPORT_TEMPLATE = "bezorging/niet_bezorgd"
COALESCED = frozenset({"tally"})  # edits in place that may be sent as one
INTERRUPTED = "onderbroken"  # claimed by a process that stopped: it may have been sent

Refresher = Callable[[Services, int, AsyncSession | None], Awaitable[Message]]
Refresh = Callable[[AsyncSession | None], Awaitable[Message]]


# --- what a row holds ------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON value for `value`; dates and times are tagged so that they come back as such."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [_plain(item) for item in items]
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        if value.keys() == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        if value.keys() == {"$date"}:
            return date.fromisoformat(value["$date"])
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return value


def _payload(item: Outgoing) -> dict[str, Any]:
    message = item.message
    return {
        "platform": item.platform,
        "data": _plain(dict(message.data)),
        "actions": [asdict(action) for action in message.actions],
        "personal": message.personal,
        "view": asdict(message.view) if message.view else None,
    }


def _message(template: str, payload: dict[str, Any]) -> Message:
    view = payload.get("view")
    return Message(
        template, _typed(payload.get("data") or {}),
        actions=tuple(Action(**action) for action in payload.get("actions") or ()),
        personal=bool(payload.get("personal")),
        view=ViewToRecord(**view) if view else None,
    )


def outgoing_of(services: Services, row: OutboxMessage) -> Outgoing:
    """The message of a row, ready for a courier."""
    payload = json.loads(services.cipher.decrypt(row.payload))
    message = _message(row.template, payload)
    refresh = _refresh_for(services, row.update_key)
    return Outgoing(
        Destination(row.destination_kind, row.destination_id),  # type: ignore[arg-type]
        message, thread_case=row.thread_case, update_key=row.update_key,
        retry=row.attempts > 0 or row.last_error is not None, refresh=refresh, outbox_id=row.id,
        platform=payload.get("platform"),
    )


def _refresh_for(services: Services, update_key: str | None) -> Refresh | None:
    """For a message edited in place whose content can be made afresh (a tally): how."""
    purpose, _, raw_id = (update_key or "").partition(":")
    refresher = _refreshers().get(purpose)
    if refresher is None or not raw_id.isdigit():
        return None
    object_id = int(raw_id)
    return lambda session: refresher(services, object_id, session)


def _refreshers() -> dict[str, Refresher]:
    from commands.stemmen import fresh_tally  # the use case that owns the message

    return {"tally": fresh_tally}


# --- writing ---------------------------------------------------------------------------------


async def queue(session: AsyncSession, services: Services,
                items: Iterable[Outgoing]) -> list[Outgoing]:
    """Write the messages in the caller's transaction; return them with their outbox ids
    (claimed for the request's sender, when it has one). A message already queued is
    returned as it is."""
    now, queued, rows = services.now(), [], []
    items = list(items)
    new = [item for item in items if item.outbox_id is None]
    behind = await _make_way(session, services, new, now)
    latest = {item.update_key: n for n, item in enumerate(new) if item.update_key}
    for item in items:
        if item.outbox_id is not None:
            queued.append(item)
            continue
        # a second version of one message in one request replaces the first at once
        replaced = item.update_key is not None and new[latest[item.update_key]] is not item
        sender = None if item.to in behind or replaced else services.request.sender
        row = OutboxMessage(
            created_at=now, destination_kind=item.to.kind, destination_id=item.to.id,
            thread_case=item.thread_case, update_key=item.update_key,
            template=item.message.template, attempts=0,
            payload=services.cipher.encrypt(json.dumps(_payload(item))),
            claimed_at=now if sender else None, claimed_by=sender,
            cancelled_at=now if replaced else None, cancel_reason=REPLACED if replaced else None,
        )
        session.add(row)
        rows.append((len(queued), row))
        queued.append(item)
    if rows:
        await session.flush()
    one_writer = dialect_of(session) == "sqlite"
    for index, row in rows:
        item = queued[index]
        refresh = _refresh_for(services, row.update_key)
        if refresh is not None and item.as_of_commit and one_writer:
            refresh = _unless_newest(services, str(row.update_key), row.id, item.message, refresh)
        queued[index] = replace(item, outbox_id=row.id, held_by=row.claimed_by, refresh=refresh)
    return queued


async def _make_way(session: AsyncSession, services: Services, new: list[Outgoing],
                    now: datetime) -> set[Destination]:
    """Make way for these new messages, with one look at what waits: the older waiting
    versions of a message edited in place that nobody holds are replaced (only the latest is
    sent). Returns the destinations where an older message waits for its retry: there a
    message is not claimed for the request's sender, so it keeps its place behind that one
    (see `_claiming`)."""
    keys = {item.update_key for item in new if item.update_key}
    places = {item.to for item in new} if services.request.sender else set()
    looks: list[Any] = [OutboxMessage.update_key.in_(keys)] if keys else []
    if places:
        looks.append(OutboxMessage.next_attempt_at.is_not(None) & tuple_(
            OutboxMessage.destination_kind, OutboxMessage.destination_id,
        ).in_([(to.kind, to.id) for to in places]))
    if not looks:
        return set()
    found = (await session.execute(
        select(OutboxMessage.id, OutboxMessage.update_key, OutboxMessage.claimed_at,
               OutboxMessage.next_attempt_at, OutboxMessage.destination_kind,
               OutboxMessage.destination_id)
        .where(_waiting(), or_(*looks)))).all()
    older = [row.id for row in found if row.update_key in keys and row.claimed_at is None]
    if older:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(older), _waiting(), OutboxMessage.claimed_at.is_(None))
            .values(cancelled_at=now, cancel_reason=REPLACED)
            .execution_options(synchronize_session=False))
    retrying = {Destination(row.destination_kind, row.destination_id)
                for row in found if row.next_attempt_at and aware(row.next_attempt_at) > now}
    return retrying & places


def _unless_newest(services: Services, update_key: str, version: int, stored: Message,
                   refresh: Refresh) -> Refresh:
    """For a message made in its change's transaction on a database with one writer at a
    time (SQLite): that is the state as the transaction committed it. Every change to what
    such a message shows queues a newer version, so while no newer version is queued it is
    still the latest: it is sent as it is, and made afresh only once a newer one exists."""

    async def current(held: AsyncSession | None) -> Message:
        async with services.sessions() as session:
            newest = await session.scalar(select(func.max(OutboxMessage.id))
                                          .where(OutboxMessage.update_key == update_key))
        return stored if newest == version else await refresh(held)

    return current


async def queue_once(services: Services, key: str, items: Iterable[Outgoing]) -> list[Outgoing] | None:
    """Queue the messages together with the record that `key` was handled, in one
    transaction: None when it was handled before. A retry sends nothing twice, and a crash
    between the two cannot lose the messages."""
    try:
        async with services.transaction() as session:
            await record_key(session, services, key)
            return await queue(session, services, items)
    except Repeated:
        return None


async def queue_result(session: AsyncSession, services: Services, result: Result) -> Result:
    """Queue a command's outgoing messages in its transaction (see `queue`)."""
    result.outgoing = await queue(session, services, result.outgoing)
    return result


def _waiting() -> Any:
    return (OutboxMessage.sent_at.is_(None) & OutboxMessage.cancelled_at.is_(None)
            & OutboxMessage.failed_at.is_(None))


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sending:
    """What became of messages sent now: `sent` arrived; `waiting` are left for the
    dispatcher (a platform error, or another sender has them)."""

    sent: int = 0
    waiting: int = 0

    @property
    def complete(self) -> bool:
        return self.waiting == 0

    def __add__(self, other: Sending) -> Sending:
        return Sending(self.sent + other.sent, self.waiting + other.waiting)


@dataclass(frozen=True)
class Claimed:
    """A message whose outbox row this worker holds: claimed here, or queued claimed for it.
    `attempts` were made before; `outgoing` gives the message (decrypted when it is sent)."""

    id: int
    attempts: int
    template: str
    to: Destination
    outgoing: Callable[[], Outgoing]

    @classmethod
    def of_row(cls, services: Services, row: OutboxMessage) -> Claimed:
        to = Destination(row.destination_kind, row.destination_id)  # type: ignore[arg-type]
        return cls(row.id, row.attempts, row.template, to, lambda: outgoing_of(services, row))

    @classmethod
    def held(cls, item: Outgoing) -> Claimed:
        """A message queued claimed for this worker by the request that sends it now."""
        assert item.outbox_id is not None
        return cls(item.outbox_id, 0, item.message.template, item.to, lambda: item)


async def send_now(services: Services, sender: Sender, worker_id: str,
                   items: Sequence[Outgoing]) -> Sending:
    """Send these queued messages now, each destination in its own worker: those queued
    claimed for this worker at once, the others once claimed."""
    held = [Claimed.held(item) for item in items if item.held_by == worker_id]
    others = [item.outbox_id for item in items if item.held_by != worker_id and item.outbox_id]
    if not held and not others:
        return Sending()
    claimed = held + (await _claim(services, worker_id, BATCH, only=others) if others else [])
    sent = await _deliver(services, sender, sorted(claimed, key=lambda one: one.id))
    return Sending(sent=sent, waiting=len(held) + len(others) - sent)


def coalesces(update_key: str | None) -> bool:
    """Whether quick edits of this message may be sent as one (a tally)."""
    return (update_key or "").partition(":")[0] in COALESCED


async def send_latest(services: Services, sender: Sender, worker_id: str,
                      update_key: str) -> Sending:
    """Send only the newest waiting version of a message edited in place; the older ones
    that nobody else holds are replaced by it (among them those queued for this worker by
    requests that left the sending to this one). While an older message to its destination
    waits for its retry, the newest is left to the dispatcher, which sends it in its turn."""
    now = services.now()
    async with services.transaction() as session:
        free = or_(OutboxMessage.claimed_at.is_(None), OutboxMessage.claimed_by == worker_id)
        newest = select(OutboxMessage, _held_up(now)).where(
            OutboxMessage.update_key == update_key, _waiting(),
            or_(free, OutboxMessage.claimed_at < now - CLAIM_TIMEOUT),
        ).order_by(OutboxMessage.id.desc()).limit(1)
        if dialect_of(session) == "postgresql":
            newest = newest.with_for_update(of=OutboxMessage, skip_locked=True)
        found = (await session.execute(newest)).first()
        if found is None:
            return Sending()
        row, held_up = found
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.update_key == update_key, _waiting(), free,
                   OutboxMessage.id < row.id)
            .values(cancelled_at=now, cancel_reason=REPLACED, claimed_at=None, claimed_by=None)
            .execution_options(synchronize_session=False))
        row.claimed_at, row.claimed_by = (None, None) if held_up else (now, worker_id)
    if held_up:
        return Sending(waiting=1)
    sent = await _deliver(services, sender, [Claimed.of_row(services, row)])
    return Sending(sent=sent, waiting=1 - sent)


async def dispatch_outbox(
    services: Services, sender: Sender, worker_id: str, *, batch: int = BATCH,
    max_batches: int = 1000, should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Send every waiting message whose time has come; return how many were sent."""
    total = 0
    for _ in range(max_batches):
        if should_stop():
            break
        rows = await _claim(services, worker_id, batch)
        if not rows:
            break
        total += await _deliver(services, sender, rows, should_stop)
    return total


async def _claim(services: Services, worker_id: str, limit: int,
                 only: Sequence[int] | None = None) -> list[Claimed]:
    now = services.now()
    async with services.transaction() as session:
        statement = _claiming(only is not None, session.get_bind().dialect.name == "postgresql")
        values: dict[str, Any] = {"now": now, "stale": now - CLAIM_TIMEOUT, "limit": limit,
                                  "worker": worker_id}
        if only is not None:
            values["only"] = list(only)
        claimed = (await session.scalars(statement, values)).all()
        session.expunge_all()
        return [Claimed.of_row(services, row) for row in sorted(claimed, key=lambda row: row.id)]


def _held_up(now: Any) -> Any:
    """Whether an older message to the row's destination waits for its retry at `now`."""
    earlier = aliased(OutboxMessage)
    return (
        select(earlier.id)
        .where(earlier.destination_kind == OutboxMessage.destination_kind,
               earlier.destination_id == OutboxMessage.destination_id,
               earlier.id < OutboxMessage.id,
               earlier.sent_at.is_(None), earlier.cancelled_at.is_(None),
               earlier.failed_at.is_(None), earlier.next_attempt_at > now)
        .exists()
    )


@functools.cache
def _claiming(only: bool, postgresql: bool) -> Any:
    """The statement that claims the due rows (built once: it is on every message's path).
    A row waits while an older one to the same destination waits for its retry."""
    now: BindParameter[datetime] = bindparam("now")
    due = (
        select(OutboxMessage.id)
        .where(_waiting(), ~_held_up(now),
               or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
               or_(OutboxMessage.claimed_at.is_(None),
                   OutboxMessage.claimed_at < bindparam("stale")))
        .order_by(OutboxMessage.id)
        .limit(bindparam("limit"))
    )
    if only:
        due = due.where(OutboxMessage.id.in_(bindparam("only", expanding=True)))
    if postgresql:
        due = due.with_for_update(skip_locked=True)
    return (update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(claimed_at=now, claimed_by=bindparam("worker"))
            .returning(OutboxMessage)
            .execution_options(synchronize_session=False))


async def _deliver(services: Services, sender: Sender, rows: list[Claimed],
                   should_stop: Callable[[], bool] = lambda: False) -> int:
    sent = 0

    async def send(row: Claimed) -> bool:
        nonlocal sent
        error = await _send_one(services, sender, row)
        await _record(services, row, error)
        sent += error is None
        return error is None or error == NO_ROUTE

    async def untried(rows: list[Claimed]) -> None:
        await _unclaim(services, [row.id for row in rows])

    await per_destination(rows, lambda row: row.to, send, after_failure=untried,
                          should_stop=should_stop)
    return sent


async def _unclaim(services: Services, ids: list[int]) -> None:
    async with services.transaction() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                              .values(claimed_at=None, claimed_by=None)
                              .execution_options(synchronize_session=False))


async def _send_one(services: Services, sender: Sender, row: Claimed) -> str | None:
    """Deliver one row; None when it arrived, else what went wrong (never the message)."""
    try:
        item = row.outgoing()
        await sender.deliver(item)
    except NoRoute:
        return NO_ROUTE
    except DeliveryFailed as exc:
        return str(exc)[:300] or type(exc).__name__
    except Exception as exc:  # a bug must not lose the message: retry and report
        log.exception("bericht %s: bezorgen mislukt door een fout", row.id)
        return type(exc).__name__
    await audit.record_delivered(services, item.message)  # a private view counts once it arrived
    return None


async def _record(services: Services, row: Claimed, error: str | None) -> None:
    now = services.now()
    values: dict[str, Any] = {"claimed_at": None, "claimed_by": None,
                              "attempts": OutboxMessage.attempts + 1}
    report: list[Outgoing] = []
    if error is None:
        values.update(sent_at=now, last_error=None, next_attempt_at=None)
    elif error == NO_ROUTE:
        log.warning("bericht %s (%s): geen kanaal voor %s %s", row.id, row.template,
                    row.to.kind, row.to.id)
        values.update(cancelled_at=now, cancel_reason=NO_ROUTE)
    elif row.attempts + 1 >= MAX_ATTEMPTS:
        log.error("bericht %s (%s) niet bezorgd na %s pogingen", row.id, row.template,
                  row.attempts + 1)
        values.update(failed_at=now, last_error=error, next_attempt_at=None)
        report = _failure_report(services, row)
    else:
        retry_at = now + backoff(row.attempts + 1)
        log.warning("bericht %s (%s): poging %s mislukt, opnieuw om %s", row.id, row.template,
                    row.attempts + 1, retry_at.isoformat())
        values.update(last_error=error, next_attempt_at=retry_at)
    async with services.transaction() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id)
                              .values(**values).execution_options(synchronize_session=False))
        await queue(session, services, report)


def _failure_report(services: Services, row: Claimed) -> list[Outgoing]:
    """A note to the coordinator(s) that a message could not be delivered."""
    if row.template == REPORT_TEMPLATE:
        return []  # a report that cannot be delivered is logged, not reported again
    org = services.org
    if row.to.kind == "regieteam":
        where = org.regieteam(row.to.id).name
    elif row.to.kind == "partner":
        where = org.partner(row.to.id).name
    else:
        found = org.member(row.to.id)
        where = found.name if found else row.to.id
    note = Message(REPORT_TEMPLATE, {"bestemming": where, "pogingen": row.attempts + 1,
                                     "referentie": row.outgoing().message.data.get("referentie")})
    return [Outgoing(to_member(member.id), note) for member in org.with_role("coordinator")]


# --- after a stop, and clean-up --------------------------------------------------------------


async def release_claims_of_others(services: Services, keep: Iterable[str]) -> int:
    """Free the messages claimed by processes that are gone (see the reminders' version):
    they go out at once instead of after CLAIM_TIMEOUT."""
    async with services.transaction() as session:
        released = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.claimed_at.is_not(None), _waiting(),
                   or_(OutboxMessage.claimed_by.is_(None),
                       OutboxMessage.claimed_by.not_in(list(keep))))
            .values(claimed_at=None, claimed_by=None, last_error=INTERRUPTED)
            .execution_options(synchronize_session=False))
    count = int(getattr(released, "rowcount", 0) or 0)
    if count:
        log.info("%s berichten vrijgegeven die een gestopt proces had geclaimd", count)
    return count


async def release_claims(services: Services, workers: Iterable[str]) -> int:
    """Give back what these workers claimed but did not finish (a stop mid-batch), so that
    another process sends it at once."""
    try:
        async with services.transaction() as session:
            released = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.claimed_by.in_(list(workers)), _waiting())
                .values(claimed_at=None, claimed_by=None, last_error=INTERRUPTED)
                .execution_options(synchronize_session=False))
            return int(getattr(released, "rowcount", 0) or 0)
    except Exception as exc:  # the database is gone: the claims expire after CLAIM_TIMEOUT
        log.warning("berichtclaims niet vrijgegeven (%s)", type(exc).__name__)
        return 0


async def forget_finished(session: AsyncSession, now: datetime) -> int:
    """Delete rows sent, given up or replaced more than FINISHED_KEPT ago."""
    before = now - FINISHED_KEPT
    result = await session.execute(delete(OutboxMessage).where(or_(
        OutboxMessage.sent_at < before, OutboxMessage.cancelled_at < before,
        OutboxMessage.failed_at < before)))
    return int(getattr(result, "rowcount", 0) or 0)


async def waiting_count(session: AsyncSession) -> int:
    """How many messages still wait to be sent (the health check shows it)."""
    return int(await session.scalar(select(func.count(OutboxMessage.id)).where(_waiting())) or 0)
