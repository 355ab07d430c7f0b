"""The Microsoft Teams adapter: `POST /api/messages` on the bot's own aiohttp server.

Every activity must carry a valid Bot Framework / Entra token (see `bot.teams.auth`); without
one the answer is 401 and nothing happens. A token that names a connector service
(`serviceurl` claim) must name the activity's own, so an activity cannot send the bot's
answers elsewhere.

Then: an activity seen before is dropped (Teams redelivers); the sender is found by their
`teams_user`; in a channel or group chat only messages that @mention the bot are handled (the
mention is taken out of the words); a 1:1 message is remembered as the member's 1:1 chat, and
so is the conversation of an install in the member's personal scope (installationUpdate or
conversationUpdate with the bot added; removing the app forgets it). See `bot.teams.chats`.
The words go to `commands.text.run_text`, as on every door; an `Action.Submit` button goes to
the one action registry (`commands.actions.perform`). Answers go back into the conversation;
personal answers only to the member's 1:1 chat. A button or command that opens a form sends
the form's card to the member's 1:1 chat (see `bot.teams.forms`); its submit is checked by
the form's use case, and the card is updated in place with the errors or the outcome.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from aiohttp import web
from microsoft_agents.activity import Activity
from pydantic import ValidationError

from bot.delivery import Deliveries
from bot.settings import Settings, SettingsError
from bot.teams import forms
from bot.teams.auth import BotCredentials, TokenRejected, TokenValidator, authority
from bot.teams.chats import Conversation
from bot.teams.courier import Missing, TeamsCourier
from commands import audit
from commands.actions import perform
from commands.context import Services
from commands.courier import DeliveryFailed
from commands.dedupe import first_time, request_key
from commands.forms import FORM_BUTTONS, CaseForm
from commands.organisation import Member
from commands.permissions import whom_to_ask
from commands.replies import (
    CommandRefused,
    Destination,
    FormInvalid,
    Message,
    OpenForm,
    Outgoing,
    Result,
)
from commands.text import run_text, split_words
from messages import teams as render
from messages.render import renderer

log = logging.getLogger(__name__)

ROUTE = "/api/messages"
MAX_BODY = 256 * 1024
_AT_TAG = re.compile(r"</?at>", re.IGNORECASE)
INSTALL_ACTIVITIES = ("installationUpdate", "conversationUpdate")


class TeamsAdapter:
    def __init__(self, services: Services, settings: Settings, deliveries: Deliveries) -> None:
        if not settings.teams_app_id or not settings.teams_app_password:
            raise SettingsError("TEAMS_APP_ID en TEAMS_APP_PASSWORD zijn allebei nodig voor Teams")
        self.services = services
        self.deliveries = deliveries
        self.app_id = settings.teams_app_id
        self.validator = TokenValidator(settings.teams_api_url, settings.teams_app_id)
        credentials = BotCredentials(
            authority(settings.teams_token_url, settings.teams_tenant_id),
            settings.teams_app_id, settings.teams_app_password, settings.teams_tenant_id)
        self.courier = TeamsCourier(services, credentials, app_id=settings.teams_app_id,
                                    tenant_id=settings.teams_tenant_id,
                                    service_url=settings.teams_service_url)
        self.courier.on_missing = self.tell_coordinators

    async def probe(self) -> dict[str, Any]:
        """The health check's view of Teams: where the app is not installed yet."""
        return self.courier.status()

    async def tell_coordinators(self, missing: Missing) -> None:
        """Tell the coordinators, on whichever door reaches them, where the app is missing."""
        message = Message("teams/app_ontbreekt", {
            "waar": missing.name, "team": missing.team, "kanaal": missing.channel})
        await self.deliveries.send(self.services, [
            Outgoing(Destination("member", m.id), message)
            for m in self.services.org.with_role("coordinator")])

    def add_routes(self, web_app: web.Application) -> None:
        web_app.router.add_post(ROUTE, self.messages)

    async def stop(self) -> None:
        """Nothing to close: every connector call opens and closes its own session."""

    # --- the endpoint ---------------------------------------------------------------------

    async def messages(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            log.warning("Teams-activiteit zonder token geweigerd")
            return web.Response(status=401)
        try:
            claims = await self.validator.validate(token.strip())
        except TokenRejected as exc:
            log.warning("Teams-activiteit met ongeldig token geweigerd (%s)", exc)
            return web.Response(status=401)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413)
        try:
            activity = Activity.model_validate(await request.json())
        except (ValueError, ValidationError, TypeError) as exc:
            log.warning("Teams-activiteit met onverwachte vorm geweigerd (%s)", type(exc).__name__)
            return web.Response(status=400)
        named = claims.get("serviceurl")
        if named is not None and str(named).rstrip("/") != str(activity.service_url).rstrip("/"):
            log.warning("Teams-activiteit met een andere serviceUrl dan in het token geweigerd")
            return web.Response(status=401)
        try:
            await self.handle(activity)
        except Exception:
            # never log the activity itself: it may hold personal data
            log.exception("Teams-activiteit %s mislukt", activity.id)
            return web.Response(status=500)
        return web.Response(status=200)

    # --- handling ---------------------------------------------------------------------------

    async def handle(self, activity: Activity) -> None:
        if activity.type in INSTALL_ACTIVITIES:
            await self.note_installation(activity)
            return
        if activity.type != "message" or activity.conversation is None:
            return
        sender = activity.from_property
        if sender is None or not activity.service_url:
            return
        if activity.id and not await first_time(
                self.services, request_key("teams", activity.id[:64], _short(activity.conversation.id))):
            log.info("Teams-activiteit %s was al verwerkt", activity.id)
            return
        personal = activity.conversation.conversation_type in (None, "personal")
        button = render.pressed(activity.value)
        submitted = render.submitted_form(activity.value)
        words = None if button or submitted else self.words(activity, personal)
        if button is None and submitted is None and words is None:
            return  # a channel message that does not address the bot
        conversation = Conversation(activity.service_url, activity.conversation.id)
        member = self.services.org.member_by_teams(sender.id, sender.aad_object_id)
        if member is None:
            await self.courier.reply(conversation, activity.id or "", Message(
                "fout/onbekende_gebruiker", {"vraag": whom_to_ask(self.services.org)}))
            return
        if personal:
            await self.courier.remember_personal(member.id, conversation)
        if submitted is not None:
            if not personal:
                # form cards only live in 1:1 chats: what is typed there never goes elsewhere
                log.warning("formulier van %s buiten een privégesprek genegeerd", member.id)
                return
            services = self.services.asked("teams", f"formulier {submitted[0]}"[:40], member.id)
            card_id = activity.reply_to_id or activity.id or ""
            await self.submit_form(services, conversation, card_id, member, personal, *submitted)
            return
        purpose = f"knop {button[0]}" if button else (words[0] if words else "help")
        services = self.services.asked("teams", purpose[:40], member.id)
        try:
            if button is not None:
                opened = self.form_of_button(*button)
                answer: Result | OpenForm = opened or await perform(services, member, *button)
            else:
                assert words is not None
                name = words[0].lstrip("/").lower() if words else "help"
                answer = await run_text(services, member, name, words[1:],
                                        labels=renderer("plain"))
            if isinstance(answer, OpenForm):
                await self.open_form(services, conversation, activity.id or "", member,
                                     personal, answer)
                return
            result = answer
        except CommandRefused as refused:
            result = Result(replies=[refused.message])
        except FormInvalid as invalid:
            result = Result(replies=list(invalid.errors.values()))
        await self.respond(services, conversation, activity.id or "", member, personal, result)

    async def note_installation(self, activity: Activity) -> None:
        """The app added to (or removed from) a member's personal scope: keep (or forget) their
        1:1 chat. Installs in a team or group chat are not a member's 1:1 chat."""
        sender, conversation = activity.from_property, activity.conversation
        if sender is None or conversation is None or not activity.service_url \
                or conversation.conversation_type not in (None, "personal"):
            return
        change = self.bot_change(activity)
        member = self.services.org.member_by_teams(sender.id, sender.aad_object_id)
        if change is None or member is None:
            return
        if change == "add":
            await self.courier.remember_personal(
                member.id, Conversation(activity.service_url, conversation.id))
        else:
            await self.courier.forget_personal(member.id)

    def bot_change(self, activity: Activity) -> str | None:
        """"add" when the activity adds the bot, "remove" when it removes it, else None."""
        if activity.type == "installationUpdate":
            action = activity.action or ""  # "add", "add-upgrade", "remove", "remove-upgrade"
            return "add" if action.startswith("add") else (
                "remove" if action.startswith("remove") else None)
        bot = {self.app_id, f"28:{self.app_id}"} | (
            {activity.recipient.id} if activity.recipient else set())
        if any(account.id in bot for account in activity.members_added or []):
            return "add"
        if any(account.id in bot for account in activity.members_removed or []):
            return "remove"
        return None

    def words(self, activity: Activity, personal: bool) -> list[str] | None:
        """The words of a text message without the bot's @mention; None when a channel message
        does not mention the bot."""
        text = activity.text or ""
        mentioned = False
        for entity in activity.entities or []:
            if getattr(entity, "type", None) != "mention":
                continue
            who = getattr(entity, "mentioned", None)
            who_id = who.get("id") if isinstance(who, dict) else getattr(who, "id", None)
            if who_id == self.app_id or (activity.recipient and who_id == activity.recipient.id):
                mentioned = True
                said = getattr(entity, "text", None)
                if isinstance(said, str) and said:
                    text = text.replace(said, " ")
        if not personal and not mentioned:
            return None
        return split_words(_AT_TAG.sub(" ", text).replace("&nbsp;", " "))

    @staticmethod
    def form_of_button(name: str, value: str) -> OpenForm | None:
        form = FORM_BUTTONS.get(name)
        return OpenForm(form, value) if form else None

    # --- forms -------------------------------------------------------------------------------

    async def open_form(self, services: Services, conversation: Conversation, activity_id: str,
                        member: Member, personal: bool, opened: OpenForm) -> None:
        """Send the form's card to the member's 1:1 chat; in a channel say only that it was
        sent privately. A member who may not use the form hears why instead."""
        form = forms.form_named(opened.name)
        value = opened.reference or ""
        if form is None:
            raise CommandRefused("fout/onbekende_knop")
        context = await forms.prepare(services, member, form, value)  # CommandRefused
        body = render.card_activity(forms.card(services, member, form, value, context,
                                               opened.values))
        try:
            chat = conversation if personal else await self.courier.personal_chat(member.id)
            await self.courier.send_body(chat, body)
        except DeliveryFailed:
            log.warning("formulier voor %s kwam niet aan", member.id)
            return
        if not personal:
            await self.courier.reply(conversation, activity_id, Message("algemeen/prive_gestuurd"))

    async def submit_form(self, services: Services, conversation: Conversation, card_id: str,
                          member: Member, personal: bool, name: str, value: str,
                          typed: dict[str, str]) -> None:
        """Check and record a form's answers with its use case; the card shows the errors
        (with everything typed) or is replaced by the outcome."""
        form = forms.form_named(name)
        if form is None:
            return
        key = request_key("teams-form", _short(conversation.id), card_id[:64])
        context: dict[str, Any] = {}
        try:
            context = await forms.prepare(services, member, form, value)
            given = forms.answers(services, member, form, context, typed)
            result = await form.submit(services, member, value, given, key)
        except FormInvalid as invalid:
            await self._card_again(services, conversation, card_id, member, form, value, context,
                                   typed, invalid.errors)
            return
        except CommandRefused as refused:
            asked = [f.name for f in forms.fields(services, member, form, context)]
            at = form.field_for(refused.message, asked)
            if at is not None:
                await self._card_again(services, conversation, card_id, member, form, value,
                                       context, typed, {at: refused.message})
            else:
                await self._replace_card(conversation, card_id, refused.message)
            return
        shown = next((r for r in result.replies if not r.actions
                      and (personal or not r.personal)), None)
        await self._replace_card(conversation, card_id, shown or Message("teams/formulier_klaar"))
        if shown is not None and personal:
            await audit.record_delivered(services, shown)
        if await first_time(services, key + ":klaar"):
            rest = Result(replies=[r for r in result.replies if r is not shown],
                          outgoing=result.outgoing)
            await self.respond(services, conversation, card_id, member, personal, rest)

    async def _card_again(self, services: Services, conversation: Conversation, card_id: str,
                          member: Member, form: CaseForm, value: str, context: dict[str, Any],
                          typed: dict[str, str], errors: dict[str, Message]) -> None:
        body = render.card_activity(forms.card(services, member, form, value, context,
                                               forms.answers(services, member, form, context,
                                                             typed, applying_only=False), errors))
        await self.courier.update_body(conversation, card_id, body)

    async def _replace_card(self, conversation: Conversation, card_id: str,
                            message: Message) -> None:
        await self.courier.update_body(conversation, card_id, render.activity(message))

    async def respond(self, services: Services, conversation: Conversation, activity_id: str,
                      member: Member, personal: bool, result: Result) -> None:
        """Answer in the conversation (personal data only in the member's 1:1 chat) and
        deliver the rest of the result wherever it goes."""
        sending = await self.deliveries.send(services, result.outgoing)
        for message in result.replies_after(sending.complete):
            if message.personal and not personal:
                await self._send_privately(services, conversation, activity_id, member, message)
                continue
            await self.courier.reply(conversation, activity_id, message)
            if personal:
                await audit.record_delivered(services, message)

    async def _send_privately(self, services: Services, conversation: Conversation,
                              activity_id: str, member: Member, message: Message) -> None:
        try:
            chat = await self.courier.personal_chat(member.id)
            await self.courier.send(chat, message)
        except DeliveryFailed:
            log.warning("privébericht aan %s kwam niet aan", member.id)
            return
        await audit.record_delivered(services, message)
        await self.courier.reply(conversation, activity_id, Message("algemeen/prive_gestuurd"))


def _short(conversation_id: str) -> str:
    return hashlib.sha256(conversation_id.encode()).hexdigest()[:16]


def create_teams(services: Services, settings: Settings, deliveries: Deliveries) -> TeamsAdapter:
    """Build the adapter and register its courier with `deliveries`."""
    adapter = TeamsAdapter(services, settings, deliveries)
    deliveries.add(adapter.courier)
    return adapter
