"""Slash commands besides /melding: /regie (help and every text command), /agenda, /status
and /terugkoppeling. The words go to `commands.text`, read once for every door. Each command
acknowledges at once: a typing mistake is answered in the acknowledgement (the words are
read without the database), a form opens straight away, and other work runs after the
acknowledgement and answers privately (ephemeral) through the response_url."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.slack import flows
from bot.slack.dedupe import claim, request_key
from commands.organisation import Member
from commands.replies import CommandRefused, Message, OpenForm
from commands.text import Planned, plan_text, split_words
from messages.render import renderer

if TYPE_CHECKING:
    from bot.slack.adapter import SlackAdapter

Body = dict[str, Any]


def _direct_message(body: Body) -> bool:
    return str(body.get("channel_id") or "").startswith("D")


async def open_form(adapter: SlackAdapter, member: Member, form: OpenForm, trigger_id: str,
                    respond: AsyncRespond | None = None) -> None:
    """Open the form a text command asked for, as a modal (the one place to do so)."""
    await flows.open_flow(adapter, form.name, member, form.reference or "", trigger_id, respond,
                          form.values)


def register(adapter: SlackAdapter) -> None:
    app = adapter.app
    services = adapter.services
    labels = renderer("plain")

    async def run(body: Body, respond: AsyncRespond, member: Member, plan: Planned,
                  purpose: str) -> None:
        key = request_key("cmd", member.id, str(body.get("trigger_id")))
        if not await claim(services, key):
            return
        try:
            result = await plan.run(services.asked("slack", purpose))
        except CommandRefused as refused:
            await adapter.say_privately(member, [refused.message], respond)
            return
        if result.files and not _direct_message(body):
            # need-to-know: files (CSV, chart) go to the member's direct messages, never to
            # the channel they were asked in; the ephemeral answer says where they went
            result.replies.append(Message("algemeen/prive_gestuurd"))
        await adapter.answer(member, result, respond)

    async def dispatch(ack: AsyncAck, body: Body, respond: AsyncRespond, name: str,
                       words: list[str]) -> None:
        member = adapter.member(body.get("user_id"))
        if member is None:
            await ack(text=adapter.mrkdwn(adapter.unknown_user()))
            return
        command = str(body.get("command") or "/regie")
        purpose = f"{command} {name}" if command == "/regie" else command
        try:
            plan = plan_text(services.asked("slack", purpose), member, name, words, labels)
        except CommandRefused as refused:
            await ack(text=adapter.mrkdwn(refused.message))
            return
        if isinstance(plan, Planned) and plan.instant:
            result = await plan.run(services)
            await ack(text="\n\n".join(adapter.mrkdwn(m) for m in result.replies))
            return
        await ack()
        if isinstance(plan, OpenForm):
            await open_form(adapter, member, plan, body["trigger_id"], respond)
            return
        await run(body, respond, member, plan, purpose)

    def words_of(body: Body) -> list[str]:
        return split_words(str(body.get("text") or ""))

    @app.command("/regie")
    @adapter.inflight.tracked
    async def regie(ack: AsyncAck, body: Body, respond: AsyncRespond) -> None:
        words = words_of(body)
        name = words[0].lower() if words else "help"
        await dispatch(ack, body, respond, name, words[1:])

    @app.command("/agenda")
    @adapter.inflight.tracked
    async def agenda(ack: AsyncAck, body: Body, respond: AsyncRespond) -> None:
        await dispatch(ack, body, respond, "agenda", words_of(body))

    @app.command("/status")
    @adapter.inflight.tracked
    async def status(ack: AsyncAck, body: Body, respond: AsyncRespond) -> None:
        await dispatch(ack, body, respond, "status", words_of(body))

    @app.command("/terugkoppeling")
    @adapter.inflight.tracked
    async def terugkoppeling(ack: AsyncAck, body: Body, respond: AsyncRespond) -> None:
        await dispatch(ack, body, respond, "terugkoppeling", words_of(body))
