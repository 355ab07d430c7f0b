"""A fake Telegram Bot API server for tests (aiohttp on 127.0.0.1).

It answers the methods the bot calls with real response shapes, feeds queued updates through
`getUpdates` (or posts them to a webhook), keeps the messages it "sent" so edits can be
checked, and records every call. It can answer 429 (`retry_after`) and 403 (a user who never
pressed /start) on demand: per method (`rate_limits`), per chat (`refuse_chat`), or as Telegram
does when a group chat gets more than its limit (`limit_groups`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.delivery import Deliveries
from bot.telegram import TelegramAdapter, create_telegram
from commands.context import Services

TOKEN = "123456:TEST-token"
BOT_ID = 123456
BOT_USERNAME = "regieteam_test_bot"
# what chaos() disturbs by default: the calls that send or change messages
CHAOS_METHODS = ("sendMessage", "sendPhoto", "sendDocument", "editMessageText",
                 "editMessageReplyMarkup", "answerCallbackQuery")
CHAOS_FAULTS = ("json500", "429", "text500", "late", "drop")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    result: dict[str, Any] | None = None
    status: int = 200

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def markup(self) -> dict[str, Any] | None:
        markup = self.params.get("reply_markup")
        return markup if isinstance(markup, dict) else None

    def buttons(self) -> list[dict[str, Any]]:
        markup = self.markup or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    def button(self, text_part: str) -> dict[str, Any]:
        for button in self.buttons():
            if text_part.lower() in str(button["text"]).lower():
                return button
        raise AssertionError(f"geen knop met '{text_part}' in {self.buttons()}")


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class FakeTelegram:
    def __init__(self, *, token: str = TOKEN, forums: tuple[int, ...] = ()) -> None:
        self.token = token
        self.forums = set(forums)
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self._handed: set[int] = set()
        self._handed_refs: list[dict[str, Any]] = []
        self.forbidden: set[int] = set()
        self.rate_limits: dict[str, list[int]] = {}
        self.chat_refusals: dict[int, list[int]] = {}
        self.group_limit: tuple[int, float] | None = None
        self._group_sent: dict[int, list[float]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.webhook: dict[str, Any] | None = None
        self.url = ""
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._topic_ids = itertools.count(500)
        self._new_update = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._chaos: tuple[Any, float, frozenset[str], float, tuple[str, ...]] | None = None
        self.injected: list[tuple[str, str]] = []  # (method, fault) of every fault chaos() made

    # --- faults -------------------------------------------------------------------------------

    def chaos(self, rng: Any, rate: float, *, methods: tuple[str, ...] = CHAOS_METHODS,
              late_seconds: float = 2.0, kinds: tuple[str, ...] = CHAOS_FAULTS) -> None:
        """From now on answer each call of `methods` with a fault, with chance `rate`, drawn
        from `rng` (a `random.Random`, so a seed fixes the sequence): a JSON 500, a 429 with
        retry_after, a plain-text 500 (none of these do what was asked), an answer only after
        `late_seconds`, or a dropped connection (both of these do it). `rate` 0 stops it."""
        self._chaos = (rng, rate, frozenset(methods), late_seconds, kinds) if rate else None

    def _chaos_fault(self, method: str) -> str | None:
        if self._chaos is None:
            return None
        rng, rate, methods, _late, kinds = self._chaos
        if method not in methods or rng.random() >= rate:
            return None
        kind = str(rng.choice(kinds))
        self.injected.append((method, kind))
        return kind

    async def _faulty(self, request: web.Request, method: str, params: dict[str, Any],
                      kind: str) -> web.Response:
        """Answer a call with the fault `kind` (see chaos())."""
        if kind == "json500":
            self.calls.append(Call(f"{method}#500", params))
            return self._error(500, "Internal Server Error")
        if kind == "429":
            self.calls.append(Call(f"{method}#429", params))
            return web.json_response(
                {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                 "parameters": {"retry_after": 1}}, status=429)
        if kind == "text500":
            self.calls.append(Call(f"{method}#500", params))
            return web.Response(status=500, text="Internal Server Error")
        call = Call(method, params)
        response = await self._answer(method, params, call)
        self.calls.append(call)
        self._changed.set()
        if kind == "late":
            assert self._chaos is not None
            await asyncio.sleep(self._chaos[3])
            return response
        self.calls.append(Call(f"{method}#drop", params))
        if request.transport is not None:
            request.transport.close()
        raise ConnectionResetError("verbinding verbroken door de nep-Telegram")

    # --- server -------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _file(self, _request: web.Request) -> web.Response:
        return web.Response(body=b"")

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data or {})
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params[key] = {"filename": value.filename, "size": len(value.file.read())}
            else:
                params[key] = _decode(value)
        params.update({k: _decode(v) for k, v in request.query.items()})
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params = await self._params(request)
        fault = self._chaos_fault(method)
        if fault is not None:
            return await self._faulty(request, method, params, fault)
        call = Call(method, params)
        response = await self._answer(method, params, call)
        call.status = response.status
        # Recorded once the answer is complete (its result, the stored message) and before it
        # leaves: a test that sees the call sees all of it, and the bot cannot have the answer
        # of a call that is not recorded yet.
        if method != "getUpdates":
            self.calls.append(call)
            self._changed.set()
        return response

    # --- limits -------------------------------------------------------------------------------

    def refuse_chat(self, chat_id: int, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls for `chat_id` with 429 and `retry_after` (seconds)."""
        self.chat_refusals.setdefault(chat_id, []).extend([retry_after] * times)

    def limit_groups(self, per: int, seconds: float) -> None:
        """As Telegram: a group chat that gets more than `per` messages in `seconds` is
        answered 429 with the `retry_after` until a message leaves that window."""
        self.group_limit = (per, seconds)

    def _over_group_limit(self, method: str, params: dict[str, Any]) -> int | None:
        if self.group_limit is None or not method.startswith("send"):
            return None
        chat_id = int(params.get("chat_id") or 0)
        if chat_id >= 0:
            return None
        per, seconds = self.group_limit
        now = time.monotonic()
        sent = [at for at in self._group_sent.get(chat_id, []) if at > now - seconds]
        self._group_sent[chat_id] = sent
        if len(sent) < per:
            sent.append(now)
            return None
        return max(1, math.ceil(sent[0] + seconds - now))

    @staticmethod
    def _too_many(retry_after: int) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": 429,
             "description": f"Too Many Requests: retry after {retry_after}",
             "parameters": {"retry_after": retry_after}},
            status=429,
        )

    def refused(self, chat_id: int | None = None) -> list[Call]:
        """The calls answered 429 (for `chat_id`)."""
        return [c for c in self.calls
                if c.status == 429 and (chat_id is None or c.chat_id == chat_id)]

    async def _answer(self, method: str, params: dict[str, Any], call: Call) -> web.Response:
        refusals = self.chat_refusals.get(call.chat_id or 0) if "chat_id" in params else None
        if refusals:
            return self._too_many(refusals.pop(0))
        pending = self.rate_limits.get(method)
        if pending:
            return self._too_many(pending.pop(0))
        over = self._over_group_limit(method, params)
        if over is not None:
            return self._too_many(over)
        handler: Callable[[dict[str, Any]], Any] | None = getattr(
            self, f"_m_{method.lower()}", None
        )
        if handler is None:
            return self._ok(True)
        result = handler(params)
        if asyncio.iscoroutine(result):
            result = await result
        if isinstance(result, web.Response):
            return result
        if isinstance(result, dict) and "message_id" in result:
            call.result = result
        return self._ok(result)

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(code: int, description: str) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": code, "description": description}, status=code
        )

    # --- methods ------------------------------------------------------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Regieteam", "username": BOT_USERNAME}

    def _m_getme(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {**self._bot_user(), "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _m_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        # As Telegram: an update handed out stays until a later call's offset confirms it. A
        # copy queued again (a redelivery, same update_id) is new and handed out once more.
        offset = int(params.get("offset") or 0)
        if offset:
            self.updates = [u for u in self.updates
                            if not (u["update_id"] < offset and id(u) in self._handed)]
        timeout = float(params.get("timeout") or 0)
        if not self.updates and timeout:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), min(timeout, 0.3))
        limit = int(params.get("limit") or 100)
        batch = self.updates[:limit]
        self._handed.update(id(u) for u in batch)
        self._handed_refs.extend(batch)  # kept alive, so an id() is never reused
        return batch

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"Gebruiker {chat_id}"}
        return {"id": chat_id, "type": "supergroup", "title": f"Groep {chat_id}",
                "is_forum": chat_id in self.forums}

    def _m_getchat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(int(params["chat_id"]))
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}}

    def _new_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any] | web.Response:
        chat_id = int(params["chat_id"])
        if chat_id in self.forbidden:
            return self._error(403, "Forbidden: bot can't initiate conversation with a user")
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": self._chat(chat_id), "from": self._bot_user(), **content,
        }
        if params.get("message_thread_id"):
            message["message_thread_id"] = int(params["message_thread_id"])
            message["is_topic_message"] = True
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        text = str(params.get("text") or "")
        if not text or len(text) > 4096:
            return self._error(400, "Bad Request: message text is empty or too long")
        return self._new_message(params, text=text)

    def _m_sendphoto(self, params: dict[str, Any]) -> Any:
        return self._new_message(params, photo=[{"file_id": "p1", "file_unique_id": "p1",
                                                  "width": 800, "height": 600}],
                                 caption=params.get("caption"))

    def _m_senddocument(self, params: dict[str, Any]) -> Any:
        return self._new_message(params, document={"file_id": "d1", "file_unique_id": "d1"},
                                 caption=params.get("caption"))

    def _m_editmessagetext(self, params: dict[str, Any]) -> Any:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self.messages.get(key)
        if message is None:
            return self._error(400, "Bad Request: message to edit not found")
        if message.get("text") == params.get("text") and (
            message.get("reply_markup") == params.get("reply_markup")
        ):
            return self._error(400, "Bad Request: message is not modified")
        message["text"] = params["text"]
        message["edit_date"] = int(time.time())
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        return message

    def _m_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self.messages.get(key)
        if message is None:
            return self._error(400, "Bad Request: message to edit not found")
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        return message

    def _m_createforumtopic(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        if chat_id not in self.forums:
            return self._error(400, "Bad Request: the chat is not a forum")
        return {"message_thread_id": next(self._topic_ids), "name": params["name"],
                "icon_color": 7322096}

    def _m_setwebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = params
        return True

    def _m_deletewebhook(self, _params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    def _m_getwebhookinfo(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                "pending_update_count": 0}

    # --- feeding updates ----------------------------------------------------------------------

    def queue(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates; returns it (with its update_id)."""
        update.setdefault("update_id", next(self._update_ids))
        self.updates.append(update)
        self._new_update.set()
        return update

    @staticmethod
    def user(user_id: int, first_name: str = "Test") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "nl"}

    def message_update(
        self, user_id: int, text: str, *, chat_id: int | None = None, thread_id: int | None = None
    ) -> dict[str, Any]:
        """A real-shaped message update (commands get a bot_command entity)."""
        chat_id = chat_id if chat_id is not None else user_id
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": self._chat(chat_id), "from": self.user(user_id), "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        return {"update_id": next(self._update_ids), "message": message}

    def callback_update(self, user_id: int, message: dict[str, Any], data: str) -> dict[str, Any]:
        """A tap on an inline button of a message the bot sent."""
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": f"cb{next(self._callback_ids)}", "from": self.user(user_id),
                "chat_instance": f"ci{message['chat']['id']}", "data": data,
                "message": message,
            },
        }

    def send_text(self, user_id: int, text: str, **options: Any) -> dict[str, Any]:
        return self.queue(self.message_update(user_id, text, **options))

    def tap(self, user_id: int, call: Call, text_part: str) -> dict[str, Any]:
        """Tap the button whose text contains `text_part` on the message `call` created."""
        button = call.button(text_part)
        message = self.message_of(call)
        return self.queue(self.callback_update(user_id, message, button["callback_data"]))

    async def pick(self, user_id: int, call: Call, option: str, expect: str) -> Call:
        """Tick `option` of the multiple choice `call` asked, press Klaar on the message as the
        tick left it, and return the bot's next message to `user_id` containing `expect`."""
        mark = self.mark()
        self.tap(user_id, call, option)
        edit = await self.next_call("editMessageReplyMarkup", user_id, after=mark)
        klaar = edit.button("Klaar")["callback_data"]
        self.queue(self.callback_update(user_id, self.message_of(call), klaar))
        return await self.next_call("sendMessage", user_id, after=mark, contains=expect)

    def message_of(self, call: Call) -> dict[str, Any]:
        """The message (as it is now) that `call` sent or edited."""
        assert call.result is not None, f"{call.method} gaf geen bericht terug"
        key = (int(call.result["chat"]["id"]), int(call.result["message_id"]))
        return self.messages[key]

    async def post_webhook(self, update: dict[str, Any], secret: str | None) -> int:
        assert self.webhook is not None, "setWebhook is niet aangeroepen"
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        async with aiohttp.ClientSession() as session, session.post(
            self.webhook["url"], json=update, headers=headers
        ) as response:
            return response.status

    # --- inspecting ---------------------------------------------------------------------------

    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls
                if (method is None or c.method == method)
                and (chat_id is None or c.chat_id == chat_id)]

    def texts(self, chat_id: int) -> list[str]:
        return [c.text for c in self.sent(chat_id=chat_id)
                if c.method in ("sendMessage", "sendPhoto", "sendDocument")]

    def current_text(self, chat_id: int, message_id: int) -> str:
        return str(self.messages[(chat_id, message_id)].get("text", ""))

    async def wait_for(
        self, predicate: Callable[[], Any], wait: float = 8.0, what: str = "bericht"
    ) -> Any:
        """Wait until predicate() is truthy (the bot works asynchronously) and return it."""
        deadline = time.monotonic() + wait
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"wachten op {what} duurde te lang; laatste calls: "
                                     f"{[(c.method, c.chat_id, c.text[:60]) for c in self.calls[-8:]]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.05)

    async def next_call(
        self, method: str, chat_id: int | None = None, *, after: int = 0,
        contains: str | None = None, wait: float = 8.0,
    ) -> Call:
        """The first call of `method` to `chat_id` made at index >= `after` (waits for it)."""

        def find() -> Call | None:
            for call in self.calls[after:]:
                if call.method == method and (chat_id is None or call.chat_id == chat_id) and (
                    contains is None or contains in call.text
                ):
                    return call
            return None

        found: Call = await self.wait_for(find, wait, f"{method} naar {chat_id} ({contains})")
        return found

    async def answer_to(self, update: dict[str, Any], wait: float = 8.0) -> Call:
        """The answerCallbackQuery for this tap (waits for it)."""
        query_id = update["callback_query"]["id"]

        def find() -> Call | None:
            return next((c for c in self.calls if c.method == "answerCallbackQuery"
                         and c.params.get("callback_query_id") == query_id), None)

        found: Call = await self.wait_for(find, wait, f"antwoord op tik {query_id}")
        return found

    def mark(self) -> int:
        """The index of the next call (use as `after=`)."""
        return len(self.calls)


# --- running the bot against the fake server ---------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def telegram_settings(fake: FakeTelegram, **extra: Any) -> Any:
    """Settings that point the bot at the fake server (and nowhere else)."""
    from bot.settings import Settings

    values = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.url,
              "REGIEBOT_SECRET_KEY": "x", **extra}
    return Settings(_env_file=None, **values)


def fast_rate_limiter() -> Any:
    """The real AIORateLimiter (it waits out 429s) with short retry counts for tests."""
    from telegram.ext import AIORateLimiter

    return AIORateLimiter(max_retries=3)


async def start_telegram(services: Services, fake: FakeTelegram,
                         deliveries: Deliveries | None = None) -> TelegramAdapter:
    """The bot's Telegram adapter, started against the fake server."""
    adapter = create_telegram(services, telegram_settings(fake), deliveries or Deliveries())
    await adapter.start()
    return adapter


@pytest.fixture
def telegram_forums() -> tuple[int, ...]:
    """Group chats the fake runs as forums (with topics); a test module overrides this fixture."""
    return ()


@pytest.fixture
async def fake_telegram(telegram_forums: tuple[int, ...]) -> AsyncIterator[FakeTelegram]:
    """A fresh fake Bot API server for one test."""
    server = FakeTelegram(forums=telegram_forums)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def telegram_deliveries() -> Deliveries:
    """The deliveries the Telegram bot registers its courier with."""
    return Deliveries()


@pytest.fixture
async def telegram_bot(services: Services, fake_telegram: FakeTelegram,
                       telegram_deliveries: Deliveries) -> AsyncIterator[TelegramAdapter]:
    """The bot's Telegram adapter, polling the fake server."""
    adapter = await start_telegram(services, fake_telegram, telegram_deliveries)
    yield adapter
    await adapter.stop()
