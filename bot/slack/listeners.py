"""Bolt listeners. Each one acknowledges at once and hands the work to a command; a button
that changes something (a vote, a reminder answer) is acknowledged once the change is stored."""

from __future__ import annotations

import logging
import re
import traceback
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from bot.slack import commands as slash
from bot.slack import flows, forms, shortcuts
from bot.slack.dedupe import claim, request_key
from bot.slack.payloads import MalformedPayload
from commands.actions import perform
from commands.dedupe import Repeated, once
from commands.melding import file_melding, require_melder
from commands.organisation import Member
from commands.replies import CommandRefused, FormInvalid, Message
from messages.slack import ACTION_PREFIX, parse_action_id

if TYPE_CHECKING:
    from bot.slack.adapter import SlackAdapter

log = logging.getLogger(__name__)
Body = dict[str, Any]


def register(adapter: SlackAdapter) -> None:
    app = adapter.app
    services = adapter.services
    tracked = adapter.inflight.tracked

    # --- /melding: ack, then open the casusformulier at once --------------------------------
    @app.command("/melding")
    @tracked
    async def melding_command(ack: AsyncAck, body: Body) -> None:
        member = adapter.member(body.get("user_id"))
        if member is None:
            await ack(text=adapter.mrkdwn(adapter.unknown_user()))
            return
        try:
            require_melder(services.org, member)
        except CommandRefused as refused:
            await ack(text=adapter.mrkdwn(refused.message))
            return
        await ack()
        await adapter.client.views_open(trigger_id=body["trigger_id"],
                                        view=forms.melding_modal(services.org, member))

    @app.view(forms.MELDING)
    @tracked
    async def melding_submitted(ack: AsyncAck, body: Body) -> None:
        view = body["view"]
        member = adapter.member(body.get("user", {}).get("id"))
        if member is None:
            await ack(response_action="update",
                      view=forms.message_modal("slack.titel.niet_gelukt", adapter.unknown_user()))
            return
        key = request_key("view", str(view.get("id")))
        answers = forms.melding_answers(view)
        try:
            result = await once(lambda: file_melding(services, member, answers,
                                                      submission_key=key,
                                                      copy_to=adapter.courier.platform))
        except FormInvalid as invalid:
            await ack(response_action="errors", errors=forms.field_errors(invalid.errors, view))
            return
        except CommandRefused as refused:
            await ack(response_action="update",
                      view=forms.message_modal("slack.titel.niet_gelukt", refused.message))
            return
        done = result.replies[0] if result.replies else Message("slack/al_verwerkt")
        await ack(response_action="update",
                  view=forms.message_modal("slack.titel.melding_klaar", done))
        # the announcement, the addendum and the copy in the melder's DM were queued with the
        # melding; a repeated submission has none
        await adapter.deliveries.send(services, result.outgoing)

    # --- buttons ---------------------------------------------------------------------------
    @app.action(re.compile(rf"^{re.escape(ACTION_PREFIX)}\|"))
    @tracked
    async def button_clicked(ack: AsyncAck, body: Body, action: Body, respond: AsyncRespond) -> None:
        member = adapter.member(body.get("user", {}).get("id"))
        name = parse_action_id(str(action.get("action_id"))) or ""
        if member is None or name in flows.FORM_BUTTONS:
            await ack()
            if member is None:
                await respond(text=adapter.mrkdwn(adapter.unknown_user()),
                              response_type="ephemeral", replace_original=False)
            else:
                await flows.open_flow(adapter, flows.FORM_BUTTONS[name], member,
                                      str(action.get("value") or ""), body["trigger_id"], respond)
            return
        await click_recorded(ack, body, action, respond, member, name)

    async def click_recorded(ack: AsyncAck, body: Body, action: Body, respond: AsyncRespond,
                             member: Member, name: str) -> None:
        """A vote or a reminder answer: acknowledged only once it is stored (a quick write,
        together with the record that this click was handled), so a click Slack shows as
        taken is never lost when the bot stops right after. A click that was not
        acknowledged shows an error in Slack, and the member clicks again."""
        key = request_key("action", member.id, str(action.get("action_ts") or body.get("trigger_id")))
        try:
            asked = services.asked("slack", f"knop {name}", key=key,
                                   sender=adapter.deliveries.worker_id)  # sent right after
            result = await perform(asked, member, name, str(action.get("value") or ""))
        except Repeated:
            await ack()
            return
        except CommandRefused as refused:
            await ack()
            await adapter.say_privately(member, [refused.message], respond)
            return
        await ack()
        await adapter.answer(member, result, respond)

    # --- App Home ----------------------------------------------------------------------------
    @app.event("app_home_opened")
    @tracked
    async def home_opened(body: Body, event: Body) -> None:
        if event.get("tab", "home") != "home":
            return
        if not await claim(services, request_key("event", str(body.get("event_id")))):
            return
        from bot.slack.home import home_view

        member = adapter.member(event.get("user"))
        view = await home_view(adapter, member)
        await adapter.client.views_publish(user_id=event["user"], view=view)

    @app.error
    async def on_error(error: Exception, body: Body, respond: AsyncRespond) -> BoltResponse | None:
        # Bolt only sees requests whose signature was verified (`SlackAdapter.handle_http`) or
        # that came over Socket Mode, so the body's response_url and user are Slack's own.
        if isinstance(error, MalformedPayload):
            log.warning("slack: ondertekend verzoek met onverwachte inhoud: %s", error)
            return BoltResponse(status=400, body="")
        # Only the kind of error and where it happened: messages can hold personal data.
        where = "".join(traceback.format_tb(error.__traceback__)[-3:])
        log.error("slack: %s bij %s\n%s", type(error).__name__,
                  body.get("type") or body.get("command"), where)
        user = body.get("user_id") or (body.get("user") or {}).get("id")
        await adapter.problem(adapter.member(user), respond)
        return None

    flows.register(adapter)
    slash.register(adapter)
    shortcuts.register(adapter)
