"""Neutral replies: what to say, to whom, with which actions. Adapters render and deliver them.

Nothing here knows Slack, Telegram or the console. A `Message` names a template under
`messages/templates/` and the values it needs; an `Outgoing` says where it goes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

DestinationKind = Literal["regieteam", "partner", "member"]


@dataclass(frozen=True)
class Action:
    """A button or follow-up command. `name` is the handler, `value` its argument, `label` a
    key in the labels template."""

    name: str
    value: str
    label: str
    style: Literal["primary", "danger"] | None = None


@dataclass(frozen=True)
class ViewToRecord:
    """A view of personal data that is recorded once the message holding it has reached the
    member privately (see `commands.audit`)."""

    case_id: int
    member_id: str
    what: str  # which data: "naam_adres", "toelichting", …
    door: str
    purpose: str
    operator: str | None = None


@dataclass(frozen=True)
class Message:
    template: str
    data: Mapping[str, Any] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    personal: bool = False  # holds household personal data: deliver privately to the entitled only
    view: ViewToRecord | None = None  # record this view after the private delivery succeeded


@dataclass(frozen=True)
class Destination:
    kind: DestinationKind
    id: str


@dataclass(frozen=True)
class Outgoing:
    """A message for a channel or a member.

    `thread_case` puts it in the case's thread of that channel; `update_key` names a message
    that is edited in place when it was posted before (a tally, an agenda). `retry` says that
    an earlier attempt ended without a clear answer: the message may have arrived, so a
    courier that can look (Slack) checks before posting again. `platform` keeps a private
    answer on the door the member used (a member on Slack and Telegram gets it once)."""

    to: Destination
    message: Message
    thread_case: int | None = None
    update_key: str | None = None
    retry: bool = False
    # for a message edited in place (a tally): how to make it afresh just before it is sent,
    # so that of several updates racing to one message the last one shows the latest state
    # (in the given session, when the courier holds one under a lock; else in one of its own)
    refresh: Callable[[AsyncSession | None], Awaitable[Message]] | None = field(
        default=None, compare=False)
    outbox_id: int | None = None  # its row in the outbox, once queued (`commands.outbox`)
    held_by: str | None = None  # the worker its row was claimed for when it was queued
    # made in the transaction that queues it, after the change: the state that transaction
    # commits (so on a database with one writer at a time it needs no remaking while it is
    # the newest version of its message; `commands.outbox`)
    as_of_commit: bool = False
    platform: str | None = None  # only this platform's courier delivers it; None: every one

    async def current(self, session: AsyncSession | None = None) -> Message:
        """The message to send now: made afresh when it can be (in `session` if given), else
        as it was made."""
        return await self.refresh(session) if self.refresh is not None else self.message


@dataclass(frozen=True)
class Attachment:
    """A file for the acting member (a chart, a CSV export). Never personal data."""

    filename: str
    content: bytes
    mime: str
    title: str


@dataclass(frozen=True)
class FileToMake:
    """A file for the acting member that `messages/` makes from plain values (the chart and
    the CSV export of a report): `content` is a neutral dataclass of the use case, `title` a
    key in the labels template. Never personal data. `messages.files.attachments` turns it
    into an `Attachment`."""

    filename: str
    content: Any
    title: str


@dataclass(frozen=True)
class Confirmation:
    delivered: Message
    waiting: Message


@dataclass
class Result:
    """What a command answers the acting member, and what it sends elsewhere."""

    replies: list[Message] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)
    files: list[Attachment | FileToMake] = field(default_factory=list)
    value: Any = None  # the object the command produced (reference, ids), for adapters and tests
    # a reply that depends on whether `outgoing` arrived: "staat in het kanaal" or "wordt zo
    # geplaatst" (see `replies_after`)
    confirmation: Confirmation | None = None

    def reply(self, template: str, **data: Any) -> Result:
        self.replies.append(Message(template, data))
        return self

    def confirm(self, delivered: str, waiting: str, **data: Any) -> Result:
        """Answer with `delivered` once every outgoing message arrived, else with `waiting`."""
        self.confirmation = Confirmation(Message(delivered, data), Message(waiting, data))
        return self

    def replies_after(self, delivered: bool) -> list[Message]:
        """The replies to give once the outgoing messages were sent (`delivered`) or not."""
        if self.confirmation is None:
            return list(self.replies)
        chosen = self.confirmation.delivered if delivered else self.confirmation.waiting
        return [*self.replies, chosen]

    def send(self, to: Destination, message: Message, **options: Any) -> Result:
        self.outgoing.append(Outgoing(to, message, **options))
        return self


@dataclass(frozen=True)
class OpenForm:
    """A text command that is answered with a form: the door opens form `name` (a modal on
    Slack, questions one at a time in the console and on Telegram) for the case `reference`,
    with `values` already filled in from the words that were typed."""

    name: str
    reference: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


def to_regieteam(regieteam_id: str) -> Destination:
    return Destination("regieteam", regieteam_id)


def to_partner(partner_id: str) -> Destination:
    return Destination("partner", partner_id)


def to_member(member_id: str) -> Destination:
    return Destination("member", member_id)


class CommandRefused(Exception):
    """The command cannot be carried out; `message` tells the member why and what to do."""

    def __init__(self, template: str, **data: Any) -> None:
        super().__init__(template)
        self.message = Message(template, data)


class FormInvalid(Exception):
    """One or more form fields are wrong; one message per field."""

    def __init__(self, errors: dict[str, Message]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors
