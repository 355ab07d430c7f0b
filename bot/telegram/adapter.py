"""The Telegram adapter: python-telegram-bot's Application wired to the neutral commands.

`create_telegram(services, settings, deliveries)` builds it; `start()` initialises the bot
(getMe), registers the commands (setMyCommands) and starts long polling, or sets the webhook
when TELEGRAM_WEBHOOK_URL is set (served by the bot's own HTTP server: `add_routes`).

Every update passes a gate first: an update or button tap seen before is dropped (Telegram
redelivers, people tap twice), and a Telegram user who is not in the organisation file gets
a polite refusal that names whom to ask.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Coroutine, Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import BotCommand, CallbackQuery, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.delivery import Deliveries
from bot.settings import Settings, SettingsError, new_request_secret
from bot.telegram import storage
from bot.telegram.casework import FLOWS
from bot.telegram.courier import ChatPacer, TelegramCourier, is_not_started
from bot.telegram.flows import Conversations
from bot.telegram.melding import MeldingForm
from commands import audit
from commands import status as _status_buttons  # noqa: F401  registers "status_volledig"
from commands.actions import perform
from commands.context import Services
from commands.melding import require_melder
from commands.organisation import Member
from commands.permissions import whom_to_ask
from commands.replies import Action, CommandRefused, FormInvalid, Message, OpenForm, Result
from commands.text import COMMANDS, REFERENCE, run_text, split_words
from commands.words import ActionName
from messages import telegram as tg
from messages.files import attachments
from messages.render import renderer

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
AnyApplication = Application[Any, Any, Any, Any, Any, Any]
ALLOWED_UPDATES = ["message", "callback_query"]
MENU = ("melding", "agenda", "terugkoppeling", "status", "help")
# Text commands whose answer (overviews, timelines, figures, files) goes to the private chat.
PRIVATE_ANSWERS = ("status", "rapport", "audit")
# The conversation that walks each form a text command can open.
FORM_FLOWS = {"stappen": ActionName.STAPPEN_KIEZEN, "besluit": ActionName.BESLUIT_VASTLEGGEN,
              "casemanager": ActionName.CASEMANAGER_AANWIJZEN,
              "terugkoppeling": ActionName.TERUGKOPPELING_GEVEN, "sluiten": ActionName.SLUITEN,
              "huishouden": "huishouden", "uitstellen": ActionName.HERINNERING_UITSTELLEN}
DEFAULT_WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


class TelegramAdapter:
    def __init__(self, services: Services, settings: Settings, deliveries: Deliveries,
                 *, rate_limiter: BaseRateLimiter[int] | None = None) -> None:
        if not settings.telegram_bot_token:
            raise ValueError("TELEGRAM_BOT_TOKEN ontbreekt")
        self.services = services
        self.deliveries = deliveries
        self.webhook_url = settings.telegram_webhook_url
        self.webhook_secret = settings.telegram_webhook_secret or new_request_secret()
        if not SECRET_SHAPE.fullmatch(self.webhook_secret):
            raise SettingsError("TELEGRAM_WEBHOOK_SECRET mag alleen letters, cijfers, _ en - "
                                "bevatten (1 tot 256 tekens)")
        self.webhook_path = (urlsplit(self.webhook_url).path or DEFAULT_WEBHOOK_PATH) \
            if self.webhook_url else DEFAULT_WEBHOOK_PATH
        api = settings.telegram_api_url.rstrip("/")
        builder = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token)
            .base_url(f"{api}/bot")
            .base_file_url(f"{api}/file/bot")
            .rate_limiter(rate_limiter or ChatPacer())
            .job_queue(None)
        )
        if self.webhook_url:
            builder = builder.updater(None)
        self.application: AnyApplication = builder.build()
        self.courier = TelegramCourier(self.application.bot, services, deliveries)
        self.melding = MeldingForm(services, self.courier, self.respond)
        self.conversations = Conversations(services, self.courier, self.respond, FLOWS)
        self._register()

    # --- lifecycle ----------------------------------------------------------------------------

    def add_routes(self, web_app: web.Application) -> None:
        """The webhook route (only in webhook mode)."""
        if self.webhook_url:
            web_app.router.add_post(self.webhook_path, self._webhook)

    async def start(self, *, poll: bool = True) -> None:
        """Connect. Long-polling mode with `poll=False` (a standby replica): everything but
        fetching updates; `start_polling()` later."""
        app = self.application
        await app.initialize()
        await storage.forget_old_requests(self.services)
        await storage.forget_abandoned_drafts(self.services)
        await app.bot.set_my_commands(
            [BotCommand(name, tg.label(f"commando.{name}")) for name in MENU])
        if self.webhook_url:
            await app.bot.set_webhook(self.webhook_url, secret_token=self.webhook_secret,
                                      allowed_updates=ALLOWED_UPDATES)
        elif poll:
            await self.start_polling()
        await app.start()
        log.info("Telegram gestart als @%s (%s)", app.bot.username,
                 "webhook" if self.webhook_url else "long polling")

    @property
    def polling(self) -> bool:
        updater = self.application.updater
        return bool(updater is not None and updater.running)

    async def start_polling(self) -> None:
        assert self.application.updater is not None
        await self.application.updater.start_polling(allowed_updates=ALLOWED_UPDATES,
                                                     error_callback=self._polling_error)

    async def stop_polling(self) -> None:
        if self.polling:
            assert self.application.updater is not None
            await self.application.updater.stop()

    async def stop(self) -> None:
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    @staticmethod
    def _polling_error(exc: TelegramError) -> None:
        log.warning("Telegram: ophalen van berichten mislukt (%s); opnieuw", type(exc).__name__)

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not given or not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
            log.warning("Telegram-webhook zonder geldig geheim geweigerd")
            return web.Response(status=403)
        if not self.application.running:
            return web.Response(status=503)
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise TypeError(type(data).__name__)
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("Telegram-webhook: update met onverwachte vorm geweigerd (%s)",
                        type(exc).__name__)
            return web.Response(status=400)
        await self.application.update_queue.put(update)
        return web.Response(status=200)

    # --- handlers -----------------------------------------------------------------------------

    def _register(self) -> None:
        app = self.application
        app.add_handler(TypeHandler(Update, self._gate), group=-1)
        commands: dict[str, Handler] = {
            name: self._text_command for name in COMMANDS if name != "melding"}
        commands.update({"start": self._start, "melding": self._melding, "terug": self._back,
                         "annuleer": self._cancel})
        for name, handler in commands.items():
            app.add_handler(CommandHandler(name, self._guarded(handler)))
        app.add_handler(CallbackQueryHandler(self._guarded(self._callback)))
        app.add_handler(MessageHandler(
            filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, self._guarded(self._text)))
        app.add_handler(MessageHandler(
            filters.ChatType.PRIVATE & filters.COMMAND, self._guarded(self._unknown_command)))
        app.add_error_handler(self._error)

    async def _error(self, update: object, context: Context | _ErrorContext) -> None:
        # Never log the update itself: it may hold personal data.
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("Telegram-update %s mislukt: %s", update_id, type(context.error).__name__,
                  exc_info=context.error)
        if not isinstance(update, Update) or update.effective_user is None:
            return
        sorry = Message("telegram/storing", {"vraag": whom_to_ask(self.services.org)})
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(tg.answer_text(sorry), show_alert=True)
            else:
                await self.courier.send(update.effective_user.id, sorry)
        except TelegramError:
            log.warning("melding van de storing kwam niet aan (update %s)", update_id)

    def member_of(self, update: Update) -> Member:
        user = update.effective_user
        assert user is not None
        member = self.services.org.member_by_telegram(user.id)
        assert member is not None
        return member

    async def _gate(self, update: Update, context: Context) -> None:
        """Drop repeats and strangers before any handler runs. When the gate itself fails
        (e.g. the database is away) the update is not handled at all."""
        try:
            await self._admit(update)
        except ApplicationHandlerStop:
            raise
        except Exception as exc:
            await self._error(update, _ErrorContext(exc))
            raise ApplicationHandlerStop from exc

    async def _admit(self, update: Update) -> None:
        bot_id = self.application.bot.id  # update ids are counted per bot
        if not await storage.first_time(self.services, f"update:{bot_id}:{update.update_id}"):
            log.info("Telegram-update %s was al verwerkt", update.update_id)
            raise ApplicationHandlerStop
        query = update.callback_query
        if query is not None and not await storage.first_time(self.services, f"tik:{query.id}"):
            raise ApplicationHandlerStop
        user = update.effective_user
        if user is None or user.is_bot:
            raise ApplicationHandlerStop
        if self.services.org.member_by_telegram(user.id) is not None:
            return
        refusal = Message("fout/onbekende_gebruiker", {"vraag": whom_to_ask(self.services.org)})
        chat = update.effective_chat
        message = update.effective_message
        if query is not None:
            await query.answer(tg.answer_text(refusal), show_alert=True)
        elif chat is not None and message is not None and (
            chat.type == "private" or (message.text or "").startswith("/")
        ):
            await self.courier.send(chat.id, refusal, thread_id=_topic(update))
        raise ApplicationHandlerStop

    def _guarded(self, handler: Handler) -> Handler:
        """Turn refusals and form errors into calm answers in the chat where they belong."""

        async def run(update: Update, context: Context) -> None:
            try:
                await handler(update, context)
            except CommandRefused as refused:
                await self._tell(update, refused.message)
            except FormInvalid as invalid:
                for message in invalid.errors.values():
                    await self._tell(update, message)

        return run

    async def _tell(self, update: Update, message: Message) -> None:
        query = update.callback_query
        if query is not None:
            short = tg.answer_text(message)
            if short is not None:
                await query.answer(short, show_alert=True)
                return
            await query.answer()
            user = update.effective_user
            chat = update.effective_chat
            if user is not None and chat is not None and chat.id != user.id:
                # a long answer to a tap in a group goes to the member, not to the whole group
                try:
                    await self.courier.send(user.id, message)
                    return
                except TelegramError as exc:
                    if not is_not_started(exc):
                        raise
        chat = update.effective_chat
        if chat is not None:
            await self.courier.send(chat.id, message, thread_id=_topic(update))

    # --- replies ------------------------------------------------------------------------------

    async def respond(self, chat: int, member: Member, result: Result,
                      thread_id: int | None = None) -> None:
        """Answer the acting member in `chat` (personal data only in their private chat) and
        deliver the rest of the result wherever it goes."""
        private = member.telegram_user
        sending = await self.deliveries.send(self.services, result.outgoing)
        for message in result.replies_after(sending.complete):
            if message.personal and chat != private:
                await self._send_privately(chat, member, message, thread_id)
            else:
                await self.courier.send(chat, message, thread_id=thread_id)
                if chat == private:  # raised above when it did not arrive
                    await audit.record_delivered(self.services, message)
        for attachment in await attachments(result.files):
            if attachment.mime.startswith("image/"):
                await self.application.bot.send_photo(
                    chat, attachment.content, caption=attachment.title[: tg.MAX_CAPTION],
                    message_thread_id=thread_id)
            else:
                await self.application.bot.send_document(
                    chat, attachment.content, filename=attachment.filename,
                    caption=attachment.title[: tg.MAX_CAPTION], message_thread_id=thread_id)

    async def respond_privately(self, update: Update, member: Member, result: Result) -> None:
        """Need-to-know: overviews, timelines, figures and files go to the member's private
        chat, whatever chat they were asked in; a group hears only that it was sent."""
        chat, topic = _chat(update), _topic(update)
        private = member.telegram_user
        assert private is not None  # the member was found by their Telegram user id
        if chat == private:
            await self.respond(chat, member, result, topic)
            return
        sending = await self.deliveries.send(self.services, result.outgoing)
        content = Result(replies=result.replies_after(sending.complete), files=result.files,
                         value=result.value)
        try:
            await self.respond(private, member, content)
        except TelegramError as exc:
            if not is_not_started(exc):
                raise
            await self.courier.send(chat, Message("telegram/eerst_start", {"naam": member.name}),
                                    thread_id=topic, markup=self._deep_link_markup("start"))
        else:
            await self.courier.send(chat, Message("algemeen/prive_gestuurd"), thread_id=topic)

    async def _send_privately(self, group: int, member: Member, message: Message,
                              thread_id: int | None) -> None:
        if member.telegram_user is None:
            return
        try:
            await self.courier.send(member.telegram_user, message)
        except TelegramError as exc:
            if not is_not_started(exc):
                raise
            await self.courier.send(group, Message("telegram/eerst_start", {"naam": member.name}),
                                    thread_id=thread_id, markup=self._deep_link_markup("start"))
            return
        await audit.record_delivered(self.services, message)
        await self.courier.send(group, Message("telegram/prive_gestuurd", {"naam": member.name}),
                                thread_id=thread_id)

    def _deep_link(self, payload: str) -> str:
        return f"https://t.me/{self.application.bot.username}?start={payload}"

    def _deep_link_markup(self, payload: str) -> Any:
        from telegram import InlineKeyboardMarkup

        return InlineKeyboardMarkup([[tg.url_button(tg.label("telegram.open_chat"),
                                                    self._deep_link(payload))]])

    # --- commands -----------------------------------------------------------------------------

    async def _start(self, update: Update, context: Context) -> None:
        member = self.member_of(update)
        chat = _chat(update)
        payload = context.args[0] if context.args else ""
        if payload == "melding" and chat > 0:
            await self.melding.start(chat, member)
            return
        code, _, value = payload.partition("_")
        flow = self.conversations.by_code(code) if value else None
        if flow is not None and chat > 0:
            await self.conversations.start(chat, member, flow.name, value)
            return
        await self.courier.send(chat, Message("telegram/start", {"naam": member.name}),
                                thread_id=_topic(update))

    async def _melding(self, update: Update, _context: Context) -> None:
        await self._open_melding(update, self.member_of(update))

    async def _open_melding(self, update: Update, member: Member) -> None:
        chat = _chat(update)
        if chat < 0:  # a group: personal data is never asked here
            require_melder(self.services.org, member)
            await self.courier.send(chat, Message("telegram/melding_prive"),
                                    thread_id=_topic(update),
                                    markup=self._deep_link_markup("melding"))
            return
        await self.melding.start(chat, member)

    async def _back(self, update: Update, _context: Context) -> None:
        member, chat = self.member_of(update), _chat(update)
        if not (await self.conversations.back(chat, member) or await self.melding.back(chat, member)):
            await self.courier.send(chat, Message("telegram/niets_bezig"))

    async def _cancel(self, update: Update, _context: Context) -> None:
        member, chat = self.member_of(update), _chat(update)
        if not (await self.conversations.cancel(chat, member)
                or await self.melding.cancel(chat, member)):
            await self.courier.send(chat, Message("telegram/niets_bezig"))

    async def _text(self, update: Update, _context: Context) -> None:
        member, chat = self.member_of(update), _chat(update)
        text = update.effective_message.text if update.effective_message else ""
        if await self.conversations.on_text(chat, member, text or ""):
            return
        if await self.melding.on_text(chat, member, text or ""):
            return
        await self.courier.send(chat, Message("telegram/niets_bezig"))

    async def _unknown_command(self, update: Update, _context: Context) -> None:
        await self.courier.send(_chat(update), Message("fout/onbekend_commando"))

    def _team_for_chat(self, chat: int) -> str | None:
        return next((t.id for t in self.services.org.regieteams if t.telegram_chat == chat), None)

    async def _text_command(self, update: Update, _context: Context) -> None:
        """Every text command: the words go to `commands.text`; the answer comes back here,
        or a form opens in the private chat."""
        member, chat = self.member_of(update), _chat(update)
        name, words = _command_words(update)
        if name == "agenda" and not words and (team := self._team_for_chat(chat)):
            words = [team]  # in a Regieteam's group: that team's agenda
        services = self.services.asked("telegram", f"/{name}")
        answer = await run_text(services, member, name, words, labels=renderer("plain"))
        if isinstance(answer, OpenForm):
            await self.open_form(update, member, answer)
            return
        if name == "status" and len(words) == 1 and REFERENCE.match(words[0]):
            reference = words[0].upper()
            answer.replies.append(Message("telegram/casus_acties", {"referentie": reference}, (
                Action(ActionName.TERUGKOPPELING_GEVEN, reference, "actie.terugkoppeling_geven"),
                Action(ActionName.SLUITEN, reference, "telegram.casus_sluiten"),
            )))
        if name in PRIVATE_ANSWERS:
            await self.respond_privately(update, member, answer)
        else:
            await self.respond(chat, member, answer, _topic(update))

    async def open_form(self, update: Update, member: Member, form: OpenForm) -> None:
        """Open the form a text command asked for (the one place to do so): questions one at
        a time in the member's private chat."""
        if form.name == "melding":
            await self._open_melding(update, member)
            return
        await self._start_flow(update, member, FORM_FLOWS[form.name], form.reference or "", None,
                               form.values)

    async def _start_flow(self, update: Update, member: Member, flow: str, value: str,
                          query: CallbackQuery | None,
                          values: Mapping[str, Any] | None = None) -> None:
        """Start a conversation in the member's private chat (from a group too), with the
        values typed with the command already answered."""
        chat = _chat(update)
        private = member.telegram_user
        assert private is not None
        try:
            await self.conversations.start(private, member, flow, value, values)
        except TelegramError as exc:
            if not is_not_started(exc):
                raise
            link = self._deep_link(f"{FLOWS[flow].code}_{value}")
            if query is not None:
                await query.answer(url=link)
            else:
                await self.courier.send(chat, Message("telegram/eerst_start",
                                                      {"naam": member.name}),
                                        thread_id=_topic(update),
                                        markup=self._deep_link_markup(
                                            f"{FLOWS[flow].code}_{value}"))
            return
        if chat != private:
            note = Message("telegram/verder_prive", {"naam": member.name})
            if query is not None:
                await query.answer(tg.answer_text(note))
            else:
                await self.courier.send(chat, note, thread_id=_topic(update))
        elif query is not None:
            await query.answer()

    # --- buttons ------------------------------------------------------------------------------

    async def _callback(self, update: Update, _context: Context) -> None:
        query = update.callback_query
        assert query is not None
        member = self.member_of(update)
        parts = (query.data or "").split(tg.SEPARATOR)
        message = query.message
        chat = message.chat.id if message is not None else (member.telegram_user or 0)
        message_id = message.message_id if message is not None else 0
        kind = parts[0]
        if kind in ("f", "q"):
            target = self.melding if kind == "f" else self.conversations
            answer = await target.on_button(chat, member, message_id, parts[1:])
            await query.answer(answer)
            return
        if kind == "a" and len(parts) >= 3:
            name, value = parts[1], tg.SEPARATOR.join(parts[2:])
        elif kind == "h" and len(parts) == 2 and (stored := await storage.load_button(
                self.services, parts[1])):
            name, value = stored
        else:
            raise CommandRefused("fout/onbekende_knop")
        if name in FLOWS:
            await self._start_flow(update, member, name, value, query)
            return
        result = await self._perform(member, name, value)
        await self._answer_tap(update, query, member, result)

    async def _perform(self, member: Member, name: str, value: str) -> Result:
        if name == "agenda_plaatsen":
            from commands.agenda import post_agenda

            return await post_agenda(self.services, member, value or None)
        return await perform(self.services.asked("telegram", f"knop {name}"), member, name, value)

    async def _answer_tap(self, update: Update, query: CallbackQuery, member: Member,
                          result: Result) -> None:
        """A short first reply becomes the tap's pop-up; the rest goes to the chat."""
        replies = list(result.replies)
        short = None
        if replies and not replies[0].personal and not replies[0].actions:
            short = tg.answer_text(replies[0])
            if short is not None:
                replies = replies[1:]
        await query.answer(short)
        rest = Result(replies=replies, outgoing=result.outgoing, files=result.files,
                      value=result.value)
        await self.respond(_chat(update), member, rest, _topic(update))


class _ErrorContext:
    """The one attribute of a callback context the error handler reads."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _chat(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


def _command_words(update: Update) -> tuple[str, list[str]]:
    """The command's name (without `/` and `@bot`) and the words typed after it; a member
    mentioned without a username (a text mention) is passed on as `tg:<user id>`."""
    message = update.effective_message
    text = (message.text or "") if message is not None else ""
    if message is not None:
        for entity in sorted(message.entities or (), key=lambda e: e.offset, reverse=True):
            if entity.type == "text_mention" and entity.user is not None:
                start, end = _utf16_span(text, entity.offset, entity.length)
                text = f"{text[:start]}tg:{entity.user.id}{text[end:]}"
    head, *rest = text.split(maxsplit=1)
    return head.lstrip("/").split("@")[0].lower(), split_words(rest[0] if rest else "")


def _utf16_span(text: str, offset: int, length: int) -> tuple[int, int]:
    """Telegram counts entity offsets in UTF-16 code units; the span in Python characters."""
    units = 0
    start = end = len(text)
    for index, char in enumerate(text):
        if units == offset:
            start = index
        if units == offset + length:
            end = index
            break
        units += 2 if ord(char) > 0xFFFF else 1
    return start, end


def _topic(update: Update) -> int | None:
    message = update.effective_message
    if message is not None and message.is_topic_message:
        return message.message_thread_id
    return None


def create_telegram(services: Services, settings: Settings, deliveries: Deliveries,
                    *, rate_limiter: BaseRateLimiter[int] | None = None) -> TelegramAdapter:
    """Build the adapter and register its courier with `deliveries`."""
    adapter = TelegramAdapter(services, settings, deliveries, rate_limiter=rate_limiter)
    deliveries.add(adapter.courier)
    return adapter
