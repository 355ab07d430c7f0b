"""The Slack adapter: a slack-bolt AsyncApp over the shared aiohttp server or Socket Mode.

Listeners stay small: they acknowledge at once, map the Slack user to a member of the
organisation, call a platform-neutral command and hand its `Result` to `answer`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.delivery import Deliveries
from bot.inflight import InFlight
from bot.settings import Settings, SettingsError
from bot.slack.courier import SlackCourier, make_web_client
from bot.slack.dedupe import claim
from bot.slack.payloads import MalformedPayload, parse_body, signature_problem
from commands import audit, outbox
from commands.context import Services
from commands.organisation import Member
from commands.permissions import whom_to_ask
from commands.replies import Message, Outgoing, Result, to_member
from messages.files import attachments
from messages.render import renderer
from messages.slack import slack_message

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


class SlackAdapter:
    """Everything Slack: the Bolt app, the Web API client and the courier."""

    def __init__(
        self, services: Services, settings: Settings, deliveries: Deliveries, *,
        pace_seconds: float = 1.0, rate_limit_retries: int = 3,
    ) -> None:
        if not settings.slack_bot_token:
            raise SettingsError("SLACK_BOT_TOKEN ontbreekt; zonder token staat Slack uit.")
        self.services = services
        self.settings = settings
        self.deliveries = deliveries
        self.client = make_web_client(settings.slack_bot_token, settings.slack_api_url,
                                      rate_limit_retries=rate_limit_retries,
                                      keep_open=True)  # its session is closed by `stop()`
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.slack_signing_secret or "",
            # `handle_http` checks every request's signature before Bolt sees it (Socket Mode
            # needs none): Bolt does not check it a second time.
            request_verification_enabled=False,
            process_before_response=False,
            logger=logging.getLogger("bot.slack.bolt"),
            name="adapter.py",  # Bolt's default, without its look-up through the call stack
        )
        self.courier = SlackCourier(services, self.client, pace_seconds=pace_seconds)
        if not any(c is self.courier for c in deliveries.couriers):
            deliveries.add(self.courier)
        self._socket_handler: Any = None
        self._verifier = SignatureVerifier(settings.slack_signing_secret or "-")
        self.inflight = InFlight()

        from bot.slack import listeners

        listeners.register(self)

    # --- running -------------------------------------------------------------------------
    @property
    def uses_socket_mode(self) -> bool:
        """True when SLACK_APP_TOKEN is set: connect with `start_socket_mode()` instead of
        serving /slack/events."""
        return bool(self.settings.slack_app_token)

    def add_routes(self, web_app: web.Application) -> None:
        """Serve Slack's requests at /slack/events on the bot's HTTP server (HTTP mode)."""
        if not self.settings.slack_signing_secret:
            raise SettingsError(
                "SLACK_SIGNING_SECRET ontbreekt. Zonder dit geheim kan de bot niet controleren "
                "of een verzoek echt van Slack komt. Zet het, of gebruik Socket Mode "
                "(SLACK_APP_TOKEN)."
            )
        web_app.router.add_post(EVENTS_PATH, self.handle_http)

    async def handle_http(self, request: web.Request) -> web.Response:
        """Only a request signed by Slack reaches Bolt (see `bot.slack.payloads`)."""
        body = await request.text()
        if problem := signature_problem(self._verifier, body, request.headers):
            log.warning("slack: verzoek geweigerd: %s", problem)
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            parse_body(body, request.content_type)
        except MalformedPayload as problem:
            log.warning("slack: ondertekend verzoek met onverwachte inhoud geweigerd: %s", problem)
            return web.json_response({"error": "malformed request"}, status=400)
        bolt_request = AsyncBoltRequest(body=body, query=request.query_string,
                                        headers=dict(request.headers))
        bolt_response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def idle(self, within: float | None = 10.0) -> None:
        """Wait until every listener that was started has finished its work."""
        await self.inflight.idle(within)

    async def start_socket_mode(self) -> None:
        """Connect over Socket Mode (SLACK_APP_TOKEN, xapp-…); returns once connected."""
        if not self.settings.slack_app_token:
            raise SettingsError("SLACK_APP_TOKEN ontbreekt; Socket Mode heeft een app-token nodig.")
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        self._socket_handler = AsyncSocketModeHandler(self.app, self.settings.slack_app_token)
        await self._socket_handler.connect_async()

    async def is_connected(self) -> bool:
        """Socket Mode: True while the WebSocket to Slack is open (the health check)."""
        if self._socket_handler is None:
            return False
        return bool(await self._socket_handler.client.is_connected())

    async def stop(self) -> None:
        if self._socket_handler is not None:
            await self._socket_handler.close_async()
            self._socket_handler = None
        if self.client.session is not None:
            await self.client.session.close()  # a later call opens a connection of its own

    # --- helpers for listeners -------------------------------------------------------------
    def member(self, slack_user: str | None) -> Member | None:
        return self.services.org.member_by_slack(slack_user) if slack_user else None

    def unknown_user(self) -> Message:
        return Message("fout/onbekende_gebruiker", {"vraag": whom_to_ask(self.services.org)})

    def mrkdwn(self, message: Message) -> str:
        return renderer("mrkdwn").render(message)

    async def say_privately(
        self, member: Member, messages: list[Message], respond: AsyncRespond | None
    ) -> None:
        """Answer the acting member only: ephemeral through the response_url when there is
        one, else in a direct message through the outbox (what Slack does not take now goes
        out later; only on Slack, where the member asked)."""
        if respond is None or respond.response_url is None:
            if member.slack_user:
                await self.deliveries.send(self.services, [
                    Outgoing(to_member(member.id), message, platform=self.courier.platform)
                    for message in messages])
            return
        for message in messages:
            rendered = slack_message(message)
            response = await respond(text=rendered.text, blocks=rendered.blocks,
                                     response_type="ephemeral", replace_original=False)
            if response.status_code == 200:  # a view counts only once it was delivered
                await audit.record_delivered(self.services, message)
            elif message.view is not None:
                log.warning("slack: privé-antwoord niet bezorgd (status %s)", response.status_code)

    async def answer(self, member: Member, result: Result, respond: AsyncRespond | None) -> None:
        """Deliver a command's result: the outgoing messages (through the outbox) and the
        replies to the member side by side, then files. A reply that says whether the messages
        arrived ("staat in het kanaal") comes after them."""
        if result.confirmation is None:
            await both(self.deliveries.send(self.services, result.outgoing),
                       self.say_privately(member, result.replies, respond))
        else:
            sending = await self.deliveries.send(self.services, result.outgoing)
            await self.say_privately(member, result.replies_after(sending.complete), respond)
        if result.files:
            await self.courier.upload_to_member(member, await attachments(result.files))

    async def answer_after_form(self, member: Member, result: Result, key: str) -> bool:
        """A form has closed, so there is nothing to answer in: the replies go to the
        member's DM. They are queued together with the record that this submission was
        answered (`outbox.queue_once`): a retry answers nothing twice, and a crash right
        after cannot lose them. False when it was answered before."""
        if result.confirmation is not None:  # what it says depends on the delivery
            if not await claim(self.services, key):
                return False
            await self.answer(member, result, None)
            return True
        private = [Outgoing(to_member(member.id), reply, platform=self.courier.platform)
                   for reply in result.replies] if member.slack_user else []
        queued = await outbox.queue_once(self.services, key, private)
        if queued is None:
            return False
        await self.deliveries.send(self.services, [*queued, *result.outgoing])
        if result.files:
            await self.courier.upload_to_member(member, await attachments(result.files))
        return True

    async def problem(self, member: Member | None, respond: AsyncRespond | None) -> None:
        """Tell the member calmly that something went wrong on our side."""
        message = Message("slack/niet_gelukt", {"vraag": whom_to_ask(self.services.org)})
        if member is not None:
            try:
                await self.say_privately(member, [message], respond)
            except Exception:  # never let the apology hide the first error
                log.exception("slack: kon de foutmelding niet sturen")


def create_slack(
    services: Services, settings: Settings, deliveries: Deliveries, **options: Any
) -> SlackAdapter:
    """Build the Slack adapter. Its courier is added to `deliveries` (once).

    HTTP mode: `adapter.add_routes(web_app)`; Socket Mode: `await adapter.start_socket_mode()`.
    """
    return SlackAdapter(services, settings, deliveries, **options)


async def both(first: Awaitable[Any], second: Awaitable[Any]) -> None:
    """Run two deliveries side by side; both finish, whatever the other does, and then the
    first error (if any) is raised."""
    errors = [found for found in await asyncio.gather(first, second, return_exceptions=True)
              if isinstance(found, BaseException)]
    if errors:
        raise errors[0]
