"""Message shortcuts (the ⋮ "Meer acties" menu on a message): slash commands do not work
inside threads, and every case is discussed in one. A shortcut on the message that starts a
case's thread, or on any message in it, finds the case from where the message sits and does
what the case's buttons do: vote, give terugkoppeling, show the status, close.

Each listener acknowledges at once, finds the case, and opens the form while the trigger_id
still lives (three seconds). Every answer is private: ephemeral through the response_url.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.slack import flows
from bot.slack.dedupe import claim, request_key
from commands.forms import FORMS
from commands.organisation import Member
from commands.replies import Action, CommandRefused, Message, OpenForm
from commands.text import plan_text
from commands.threads import case_at
from commands.words import ActionName
from messages.render import renderer

if TYPE_CHECKING:
    from bot.slack.adapter import SlackAdapter

Body = dict[str, Any]
Handler = Callable[["SlackAdapter", Member, str, Body, AsyncRespond], Awaitable[None]]

# callback_id in deploy/slack-manifest.yml → what the shortcut does
STEMMEN, TERUGKOPPELING, STATUS, SLUITEN = ("regie_stemmen", "regie_terugkoppeling",
                                            "regie_status", "regie_sluiten")


def _text(body: Body, *path: str) -> str | None:
    value: Any = body
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) and value else None


async def case_of(adapter: SlackAdapter, body: Body) -> str | None:
    """The reference of the case the message belongs to, from the channel and the message's
    own ts or the thread it sits in."""
    channel = _text(body, "channel", "id")
    ts = _text(body, "message", "ts") or _text(body, "message_ts")
    if channel is None or ts is None:
        return None
    return await case_at(adapter.services, "slack", channel, ts,
                         _text(body, "message", "thread_ts"))


def vote_buttons(reference: str) -> Message:
    """The case's voting buttons, as on the message that starts its thread."""
    actions = [Action(ActionName.STEM, f"{reference}|q1|{c}", f"actie.q1_{c}")
               for c in ("ja", "nee", "twijfel")]
    actions += [Action(ActionName.STAPPEN_KIEZEN, reference, "actie.q2_kiezen")]
    actions += [Action(ActionName.STEM, f"{reference}|q3|{c}", f"actie.q3_{c}")
                for c in ("ja", "nee")]
    return Message("slack/snelkoppeling_stemmen", {"referentie": reference}, tuple(actions))


async def _vote(adapter: SlackAdapter, member: Member, reference: str, _body: Body,
                respond: AsyncRespond) -> None:
    check = FORMS["stappen"].check  # the one who may vote on the case
    if check is not None:
        await check(adapter.services, member, reference)
    await adapter.say_privately(member, [vote_buttons(reference)], respond)


def _form(name: str) -> Handler:
    async def open_form(adapter: SlackAdapter, member: Member, reference: str, body: Body,
                        respond: AsyncRespond) -> None:
        form = FORMS[name]
        if form.check is not None:  # refused before the form opens, as the form itself would
            await form.check(adapter.services, member, reference)
        await flows.open_flow(adapter, name, member, reference, str(body.get("trigger_id") or ""), respond)

    return open_form


async def _status(adapter: SlackAdapter, member: Member, reference: str, body: Body,
                  respond: AsyncRespond) -> None:
    """The same private answer as `/status RT-…`: the case's timeline."""
    services = adapter.services.asked("slack", "snelkoppeling status")
    if not await claim(services, request_key("shortcut", member.id, str(body.get("trigger_id")))):
        return
    plan = plan_text(services, member, "status", [reference], renderer("plain"))
    if isinstance(plan, OpenForm):  # /status never asks for a form
        return
    await adapter.answer(member, await plan.run(services), respond)


SHORTCUTS: dict[str, Handler] = {
    STEMMEN: _vote,
    TERUGKOPPELING: _form("terugkoppeling"),
    STATUS: _status,
    SLUITEN: _form("sluiten"),
}


def register(adapter: SlackAdapter) -> None:
    for callback_id, handler in SHORTCUTS.items():
        adapter.app.message_shortcut(callback_id)(
            adapter.inflight.tracked(_listener(adapter, handler)))


def _listener(adapter: SlackAdapter, handler: Handler
              ) -> Callable[[AsyncAck, Body, AsyncRespond], Awaitable[None]]:
    async def shortcut(ack: AsyncAck, body: Body, respond: AsyncRespond) -> None:
        await ack()
        member = adapter.member(_text(body, "user", "id"))
        if member is None:
            await respond(text=adapter.mrkdwn(adapter.unknown_user()), response_type="ephemeral",
                          replace_original=False)
            return
        reference = await case_of(adapter, body)
        if reference is None:
            await adapter.say_privately(member, [Message("slack/snelkoppeling_geen_casus")],
                                        respond)
            return
        try:
            await handler(adapter, member, reference, body, respond)
        except CommandRefused as refused:
            await adapter.say_privately(member, [refused.message], respond)

    return shortcut


__all__ = ["SHORTCUTS", "case_of", "register", "vote_buttons"]
