"""A fake Slack Web API on 127.0.0.1 for tests and the benchmark.

It answers the methods the bot calls, records every call, and validates every Block Kit
payload it receives with slack_sdk.models plus the limits slack_sdk does not check (50 blocks
per message, 100 per view, 24 characters for modal titles and buttons, 3000 for
private_metadata). Anything invalid is answered the way Slack does (`invalid_blocks`) and
kept in `problems`, which the tests assert to be empty.

It runs in its own thread with its own event loop, so one server serves a whole test
session whatever the test's event loop is.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from commands.context import Services

BOT_USER = "UBOT"
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
TEXT_LIMIT = 40_000
# what chaos() disturbs by default: the calls that deliver or look up messages
CHAOS_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral", "conversations.open",
                 "conversations.history", "conversations.replies")
CHAOS_FAULTS = ("json500", "429", "text500", "late", "drop")


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    connection: object = None  # the client's address and port: the same on a kept-open connection


class FakeSlack:
    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.calls: list[Call] = []
        self.problems: list[str] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.view_log: list[dict[str, Any]] = []
        self.uploads: dict[str, bytes] = {}
        self.answered: set[str] = set()  # names of response_urls that got an answer
        self.sockets: list[web.WebSocketResponse] = []
        self.bots: list[Any] = []  # bots under test, for work_done()
        self.socket_acks: list[dict[str, Any]] = []
        self._rate_limits: dict[str, list[int]] = {}
        self._faults: dict[str, list[tuple[str, float, str]]] = {}
        self.posted: dict[str, list[dict[str, Any]]] = {}  # channel → messages, as history has them
        # (channel, ts) → the message as it stands after edits: thread_ts, first and final
        # text and blocks, and how often it was edited
        self.final: dict[tuple[str, str], dict[str, Any]] = {}
        self._chaos: tuple[Any, float, frozenset[str], float, tuple[str, ...]] | None = None
        self.injected: list[tuple[str, str]] = []  # (method, fault) of every fault chaos() made
        self._ts = count(1)
        self._ids = count(1)
        self._lock = threading.Lock()
        self._answering = 0  # requests read in full but not yet answered and recorded
        self._all_answered = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_in_thread(self) -> FakeSlack:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.close())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-slack", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def start(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.problems.clear()
            self.views.clear()
            self.view_log.clear()
            self.answered.clear()
            self.socket_acks.clear()
            self._rate_limits.clear()
            self._faults.clear()
            self.posted.clear()
            self.final.clear()
            self._chaos = None
            self.injected.clear()

    # --- test helpers ----------------------------------------------------------------------
    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and Retry-After."""
        with self._lock:
            self._rate_limits[method] = [times, retry_after]

    def all_answered(self) -> None:
        """Wait until every request read so far has been answered and recorded."""
        with self._lock:
            self._settled()

    def fail(self, method: str, times: int = 1, *, status: int = 500,
             body: str = "Internal Server Error") -> None:
        """Answer the next `times` calls of `method` with `status` and a plain-text body,
        without doing what was asked."""
        with self._lock:
            self._faults.setdefault(method, []).extend([("fail", float(status), body)] * times)

    def answer_late(self, method: str, seconds: float, times: int = 1) -> None:
        """Do what the next `times` calls of `method` ask, but answer only after `seconds`
        (past the client's timeout: the bot cannot know the message arrived)."""
        with self._lock:
            self._faults.setdefault(method, []).extend([("late", seconds, "")] * times)

    def drop(self, method: str, times: int = 1) -> None:
        """Do what the next `times` calls ask, then close the connection without an answer."""
        with self._lock:
            self._faults.setdefault(method, []).extend([("drop", 0.0, "")] * times)

    def chaos(self, rng: Any, rate: float, *, methods: tuple[str, ...] = CHAOS_METHODS,
              late_seconds: float = 2.0, kinds: tuple[str, ...] = CHAOS_FAULTS) -> None:
        """From now on answer each call of `methods` with a fault, with chance `rate`, drawn
        from `rng` (a `random.Random`, so a seed fixes the sequence): a JSON 500, a 429 with
        Retry-After, a plain-text 500 (none of these do what was asked), an answer only after
        `late_seconds`, or a dropped connection (both of these do it). `rate` 0 stops it."""
        with self._lock:
            self._chaos = (rng, rate, frozenset(methods), late_seconds, kinds) if rate else None

    def _chaos_fault(self, method: str) -> tuple[str, float, str] | None:
        """The fault chaos() draws for this call, if any (holding the lock)."""
        if self._chaos is None:
            return None
        rng, rate, methods, late, kinds = self._chaos
        if method not in methods or rng.random() >= rate:
            return None
        kind = rng.choice(kinds)
        self.injected.append((method, kind))
        if kind == "json500":
            return ("json", 500.0, json.dumps({"ok": False, "error": "internal_error"}))
        if kind == "429":
            return ("429", 1.0, "")
        if kind == "text500":
            return ("fail", 500.0, "Internal Server Error")
        if kind == "late":
            return ("late", late, "")
        return ("drop", 0.0, "")

    def of(self, *methods: str) -> list[Call]:
        """The answered calls of these methods, in the order they were answered."""
        with self._lock:
            self._settled()
            return [c for c in self.calls if c.method in methods]

    def last_view(self, callback_id: str) -> dict[str, Any]:
        """The newest modal with this callback_id (as opened or last updated)."""
        with self._lock:
            self._settled()
            for logged in reversed(self.view_log):
                if logged.get("callback_id") == callback_id:
                    return dict(logged)
        raise AssertionError(f"no view {callback_id}")

    def response_url(self, name: str = "r") -> str:
        return f"{self.base}/response/{name}"

    async def wait_for(self, method: str, count: int = 1, within: float = 5.0) -> list[Call]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = self.of(method)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError(f"{method}: {len(self.of(method))} calls, expected {count}; "
                             f"seen: {[c.method for c in self.calls]}")

    async def work_done(self, within: float = 10.0) -> None:
        """Wait until every bot that talks to this fake has finished the work its requests
        started (Bolt goes on after the acknowledgement)."""
        for bot in list(self.bots):
            await bot.idle(within)

    # --- validation ------------------------------------------------------------------------
    def _check_blocks(self, where: str, blocks: Any, limit: int) -> None:
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not isinstance(blocks, list):
            self.problems.append(f"{where}: blocks is not a list")
            return
        if len(blocks) > limit:
            self.problems.append(f"{where}: {len(blocks)} blocks (max {limit})")
        for index, raw in enumerate(blocks):
            try:
                parsed = Block.parse(raw)
                if parsed is None:
                    raise ValueError(f"unknown block type {raw.get('type')!r}")
                parsed.validate_json()
                parsed.to_dict()
            except Exception as exc:
                self.problems.append(f"{where}: block {index}: {exc}")
                continue
            self._check_limits(f"{where}: block {index}", raw)

    def _check_limits(self, where: str, block: dict[str, Any]) -> None:
        text = block.get("text")
        if isinstance(text, dict) and len(text.get("text", "")) > 3000:
            self.problems.append(f"{where}: section text over 3000")
        if block.get("type") == "actions":
            elements = block.get("elements", [])
            if len(elements) > 25:
                self.problems.append(f"{where}: over 25 elements")
            ids = [e.get("action_id") for e in elements]
            if len(ids) != len(set(ids)):
                self.problems.append(f"{where}: duplicate action_id")
            for element in elements:
                if len(element.get("text", {}).get("text", "")) > 75:
                    self.problems.append(f"{where}: button text over 75")
                if len(element.get("value", "")) > 2000:
                    self.problems.append(f"{where}: button value over 2000")

    def _check_view(self, where: str, view: Any) -> dict[str, Any]:
        if isinstance(view, str):
            view = json.loads(view)
        try:
            View(**view).validate_json()
        except Exception as exc:
            self.problems.append(f"{where}: view: {exc}")
        if view.get("type") == "modal":
            for key in ("title", "submit", "close"):
                if key in view and len(view[key].get("text", "")) > 24:
                    self.problems.append(f"{where}: {key} over 24 characters")
            if "title" not in view:
                self.problems.append(f"{where}: modal without title")
        if len(view.get("private_metadata", "") or "") > 3000:
            self.problems.append(f"{where}: private_metadata over 3000")
        ids = [b.get("block_id") for b in view.get("blocks", []) if b.get("block_id")]
        if len(ids) != len(set(ids)):
            self.problems.append(f"{where}: duplicate block_id")
        self._check_blocks(where, view.get("blocks", []), VIEW_BLOCKS)
        return dict(view)

    def check_message(self, where: str, args: dict[str, Any]) -> None:
        if "blocks" in args and args["blocks"] is not None:
            self._check_blocks(where, args["blocks"], MESSAGE_BLOCKS)
        if len(str(args.get("text") or "")) > TEXT_LIMIT:
            self.problems.append(f"{where}: text over {TEXT_LIMIT}")
        if not args.get("text") and not args.get("blocks"):
            self.problems.append(f"{where}: no text and no blocks")

    # --- handlers -----------------------------------------------------------------------------
    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.body_exists:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(dict(await request.post()))
        for key in ("blocks", "view", "files"):
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except ValueError:
                    self.problems.append(f"{key} is not JSON")
        return args

    def _begin_answer(self) -> None:
        """Called once a request has been read in full: from here on, readers of the calls wait
        until it has been answered and recorded."""
        with self._lock:
            self._answering += 1

    async def _answered(self, request: web.Request, response: web.Response, call: Call) -> web.Response:
        """Send the answer, then record the call: whoever sees the call sees its whole effect."""
        if request.transport is not None:
            call.connection = request.transport.get_extra_info("peername")
        try:
            await response.prepare(request)
            await response.write_eof()
        finally:
            with self._lock:
                self.calls.append(call)
                self._answering -= 1
                self._all_answered.notify_all()
        return response

    def _settled(self) -> None:
        """Wait (holding the lock) until every request read so far has been answered. Any
        answer the bot has received is then among the recorded calls."""
        if not self._all_answered.wait_for(lambda: self._answering == 0, timeout=10):
            raise AssertionError("de nep-Slack bleef een antwoord schuldig")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if self.latency:
            await asyncio.sleep(self.latency)
        with self._lock:
            limit = self._rate_limits.get(method)
            limited = bool(limit and limit[0] > 0)
            if limit and limited:
                limit[0] -= 1
                self._answering += 1
        if limited and limit:
            response = web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(limit[1])})
            return await self._answered(request, response, Call(f"{method}#429", {}))
        token_kind = "Bearer xapp-" if method == "apps.connections.open" else "Bearer xoxb-"
        if not request.headers.get("Authorization", "").startswith(token_kind):
            return web.json_response({"ok": False, "error": "not_authed"})
        args = await self._args(request)
        self._begin_answer()
        with self._lock:
            faults = self._faults.get(method)
            fault = faults.pop(0) if faults else None
            if fault is None:
                fault = self._chaos_fault(method)
        if fault is not None and fault[0] == "429":
            response = web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(int(fault[1]))})
            return await self._answered(request, response, Call(f"{method}#429", args))
        if fault is not None and fault[0] == "json":
            response = web.Response(status=int(fault[1]), text=fault[2],
                                    content_type="application/json")
            return await self._answered(request, response, Call(f"{method}#{int(fault[1])}", args))
        if fault is not None and fault[0] == "fail":
            response = web.Response(status=int(fault[1]), text=fault[2])
            return await self._answered(request, response, Call(f"{method}#{int(fault[1])}", args))
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            answer: dict[str, Any] = {"ok": False, "error": "unknown_method"}
        else:
            with self._lock:
                answer = handler(args)
        if fault is not None and fault[0] == "late":
            await asyncio.sleep(fault[1])
        if fault is not None and fault[0] == "drop":
            return await self._dropped(request, Call(f"{method}#drop", args))
        return await self._answered(request, web.json_response(answer), Call(method, args))

    async def _dropped(self, request: web.Request, call: Call) -> web.Response:
        """Close the connection without answering (the work was done)."""
        with self._lock:
            self.calls.append(call)
            self._answering -= 1
            self._all_answered.notify_all()
        if request.transport is not None:
            request.transport.close()
        raise ConnectionResetError("verbinding verbroken door de nep-Slack")

    def _ts_next(self) -> str:
        return f"1790000000.{next(self._ts):06d}"

    def _m_auth_test(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://regie.slack.test/", "team": "Regie", "user": "regiebot",
                "team_id": "T0REGIE", "user_id": BOT_USER, "bot_id": "B0BOT", "is_enterprise_install": False}

    def _message_answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        before = len(self.problems)
        self.check_message(method, args)
        if len(self.problems) > before:
            return {"ok": False, "error": "invalid_blocks"}
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        return {}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        if problem := self._message_answer("chat.postMessage", args):
            return problem
        ts = self._ts_next()
        message: dict[str, Any] = {"type": "message", "text": args.get("text"), "ts": ts,
                                   "user": BOT_USER}
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata:
            message["metadata"] = metadata
        self.posted.setdefault(str(args["channel"]), []).append(message)
        self.final[(str(args["channel"]), ts)] = {
            "thread_ts": args.get("thread_ts"), "first_text": args.get("text"),
            "text": args.get("text"), "blocks": args.get("blocks"), "edits": 0}
        return {"ok": True, "channel": args["channel"], "ts": ts, "message": message}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        newest_first = [m for m in reversed(self.posted.get(str(args.get("channel")), []))
                        if "thread_ts" not in m]
        return {"ok": True, "messages": newest_first[: int(args.get("limit") or 100)],
                "has_more": False}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        thread = str(args.get("ts"))
        in_thread = [m for m in self.posted.get(str(args.get("channel")), [])
                     if m["ts"] == thread or m.get("thread_ts") == thread]
        return {"ok": True, "messages": in_thread[: int(args.get("limit") or 100)],
                "has_more": False}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        if problem := self._message_answer("chat.update", args):
            return problem
        edited = self.final.get((str(args["channel"]), str(args.get("ts"))))
        if edited is not None:
            edited.update(text=args.get("text"), blocks=args.get("blocks"),
                          edits=edited["edits"] + 1)
        return {"ok": True, "channel": args["channel"], "ts": args.get("ts"), "text": args.get("text")}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if problem := self._message_answer("chat.postEphemeral", args):
            return problem
        return {"ok": True, "message_ts": self._ts_next()}

    def _view_answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        before = len(self.problems)
        view = self._check_view(method, args.get("view") or {})
        if len(self.problems) > before:
            return {"ok": False, "error": "invalid_arguments"}
        view_id = args.get("view_id") or f"V{next(self._ids):08d}"
        view = {**view, "id": view_id, "state": {"values": {}}}
        self.views[view_id] = view
        self.view_log.append(view)
        return {"ok": True, "view": view}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return self._view_answer("views.open", args)

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._view_answer("views.update", args)

    def _m_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._view_answer("views.push", args)

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._view_answer("views.publish", args)

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("users", "")).split(",")[0]
        return {"ok": True, "channel": {"id": f"D{user}"}}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):08d}"
        return {"ok": True, "file_id": file_id, "upload_url": f"{self.base}/upload/{file_id}"}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files") or []
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def _m_apps_connections_open(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, then record the app's acknowledgements."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                      "connection_info": {"app_id": "A0REGIE"}}))
        async for message in ws:
            if message.type == 1:  # aiohttp.WSMsgType.TEXT
                with self._lock:
                    self.socket_acks.append(json.loads(message.data))
        self.sockets.remove(ws)
        return ws

    def send_envelope(self, kind: str, payload: dict[str, Any], envelope_id: str) -> None:
        """Push a Socket Mode envelope (slash_commands, interactive, events_api) to the app."""
        assert self._loop is not None and self.sockets, "no Socket Mode connection"
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": kind != "events_api", "retry_attempt": 0}
        future = asyncio.run_coroutine_threadsafe(
            self.sockets[-1].send_str(json.dumps(envelope)), self._loop)
        future.result(5)

    def _m_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "file": {"id": args.get("file")}}

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        self._begin_answer()
        with self._lock:
            self.uploads[request.match_info["file_id"]] = data
        call = Call("upload", {"file_id": request.match_info["file_id"], "size": len(data)})
        return await self._answered(request, web.Response(text=f"OK - {len(data)}"), call)

    async def _response_url(self, request: web.Request) -> web.Response:
        args = await request.json()
        self._begin_answer()
        with self._lock:
            self.check_message("response_url", args)
            self.answered.add(request.match_info["name"])
        return await self._answered(request, web.Response(text="ok"), Call("response_url", args))


@pytest.fixture(scope="session")
def fake_slack_server() -> Iterator[FakeSlack]:
    server = FakeSlack().start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def fake_slack(fake_slack_server: FakeSlack) -> Iterator[FakeSlack]:
    fake_slack_server.reset()
    yield fake_slack_server
    fake_slack_server.all_answered()
    assert not fake_slack_server.problems, fake_slack_server.problems


# --- the bot over HTTP, with Slack's signed request shapes ------------------------------------

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"


def sign(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Headers Slack sends: X-Slack-Request-Timestamp and X-Slack-Signature (v0 HMAC-SHA256)."""
    import hashlib
    import hmac

    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def state_for(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """view.state.values as Slack sends them, for the inputs of `view` filled with `values`."""
    state: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block["element"]
        kind, action = element["type"], element["action_id"]
        value = values.get(block["block_id"])
        entry: dict[str, Any] = {"type": kind}
        options = {o["value"]: o for o in element.get("options", [])}
        if kind in ("static_select", "radio_buttons"):
            entry["selected_option"] = options.get(value) if value is not None else None
            if value is not None and value not in options:
                entry["selected_option"] = {"text": {"type": "plain_text", "text": str(value)},
                                            "value": str(value)}
        elif kind in ("multi_static_select", "checkboxes"):
            entry["selected_options"] = [options.get(v) or {"value": v} for v in value or []]
        elif kind == "datepicker":
            entry["selected_date"] = value
        elif kind == "users_select":
            entry["selected_user"] = value
        else:
            entry["value"] = None if value is None else str(value)
        state[block["block_id"]] = {action: entry}
    return {"values": state}


class SlackBot:
    """The regiebot Slack adapter on a real aiohttp server, driven as Slack drives it."""

    def __init__(self, fake: FakeSlack, services: Any, **options: Any) -> None:
        self.fake = fake
        self.services = services
        self.options = {"pace_seconds": 0.0, **options}
        self.adapter: Any = None
        self.runner: Any = None
        self.url = ""
        self.session: Any = None
        self._seq = count(1)

    async def start(self) -> SlackBot:
        import aiohttp

        from bot.delivery import Deliveries
        from bot.http import bound_port, make_web_app, serve
        from bot.settings import Settings
        from bot.slack import create_slack

        settings = Settings(
            _env_file=None,
            SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=self.fake.api_url, REGIEBOT_SECRET_KEY="x",
        )
        self.deliveries = Deliveries()
        self.adapter = create_slack(self.services, settings, self.deliveries, **self.options)
        web_app = make_web_app()
        self.adapter.add_routes(web_app)
        self.runner = await serve(web_app, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{bound_port(self.runner)}/slack/events"
        self.session = aiohttp.ClientSession()
        self.fake.bots.append(self)
        return self

    async def idle(self, within: float = 10.0) -> None:
        """Wait until the adapter's listeners have finished."""
        await self.adapter.idle(within)

    async def stop(self) -> None:
        if self in self.fake.bots:
            self.fake.bots.remove(self)
        if self.session is not None:
            await self.session.close()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.adapter is not None:
            await self.adapter.stop()

    # --- raw requests ------------------------------------------------------------------------
    async def post(
        self, body: str, content_type: str, *, headers: dict[str, str] | None = None,
        signed: bool = True, timestamp: int | None = None,
    ) -> tuple[int, str]:
        all_headers = {"Content-Type": content_type, **(sign(body, timestamp) if signed else {}),
                       **(headers or {})}
        async with self.session.post(self.url, data=body.encode(), headers=all_headers) as response:
            return response.status, await response.text()

    async def post_form(self, fields: dict[str, str], **options: Any) -> tuple[int, str]:
        from urllib.parse import urlencode

        return await self.post(urlencode(fields), "application/x-www-form-urlencoded", **options)

    async def post_payload(self, payload: dict[str, Any], **options: Any) -> tuple[int, str]:
        return await self.post_form({"payload": json.dumps(payload)}, **options)

    # --- Slack's shapes ----------------------------------------------------------------------------
    def _user(self, user: str) -> dict[str, Any]:
        return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0REGIE"}

    def trigger(self) -> str:
        return f"{next(self._seq)}.1234567890.abcdef0123456789"

    async def slash(
        self, user: str, command: str, text: str = "", channel: str = "D0DM", **options: Any
    ) -> tuple[int, str]:
        n = next(self._seq)
        return await self.post_form({
            "token": "legacy-verification-token", "team_id": "T0REGIE", "team_domain": "regie",
            "channel_id": channel, "channel_name": "directmessage", "user_id": user,
            "user_name": user.lower(), "command": command, "text": text,
            "api_app_id": "A0REGIE", "is_enterprise_install": "false",
            "response_url": self.fake.response_url(f"cmd{n}"), "trigger_id": self.trigger(),
        }, **options)

    async def submit(
        self, user: str, view: dict[str, Any], values: dict[str, Any], **options: Any
    ) -> tuple[int, Any]:
        submitted = {**view, "state": state_for(view, values), "team_id": "T0REGIE",
                     "app_id": "A0REGIE", "bot_id": "B0BOT", "hash": "1790000000.abc"}
        status, text = await self.post_payload({
            "type": "view_submission", "team": {"id": "T0REGIE", "domain": "regie"},
            "user": self._user(user), "api_app_id": "A0REGIE", "token": "legacy",
            "trigger_id": self.trigger(), "view": submitted, "response_urls": [],
            "is_enterprise_install": False, "enterprise": None,
        }, **options)
        return status, (json.loads(text) if text.startswith("{") else text)

    async def click(
        self, user: str, button: dict[str, Any], *, channel: str = "C0REGIE",
        message_ts: str = "1790000000.000001", action_ts: str | None = None, **options: Any,
    ) -> tuple[int, str]:
        n = next(self._seq)
        action = {"action_id": button["action_id"], "block_id": "b1", "text": button["text"],
                  "value": button.get("value", ""), "type": "button",
                  "action_ts": action_ts or f"1790000{n:03d}.123456"}
        if "style" in button:
            action["style"] = button["style"]
        return await self.post_payload({
            "type": "block_actions", "user": self._user(user), "api_app_id": "A0REGIE",
            "token": "legacy", "trigger_id": self.trigger(),
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel,
                          "is_ephemeral": False},
            "team": {"id": "T0REGIE", "domain": "regie"}, "enterprise": None,
            "is_enterprise_install": False, "channel": {"id": channel, "name": "regieteam"},
            "message": {"type": "message", "ts": message_ts, "user": BOT_USER, "text": "…"},
            "state": {"values": {}}, "response_url": self.fake.response_url(f"act{n}"),
            "actions": [action],
        }, **options)

    async def shortcut(
        self, user: str, callback_id: str, *, channel: str = "C0REGIE",
        message_ts: str = "1790000000.000001", thread_ts: str | None = None, **options: Any,
    ) -> tuple[int, str]:
        """A message shortcut (⋮ on a message) on the message `message_ts` in `channel`,
        inside the thread `thread_ts` when given."""
        n = next(self._seq)
        message: dict[str, Any] = {"type": "message", "ts": message_ts, "user": BOT_USER,
                                   "text": "…"}
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
        return await self.post_payload({
            "type": "message_action", "callback_id": callback_id, "token": "legacy",
            "trigger_id": self.trigger(), "action_ts": f"1790001{n:03d}.123456",
            "team": {"id": "T0REGIE", "domain": "regie"}, "user": self._user(user),
            "channel": {"id": channel, "name": "regieteam"}, "is_enterprise_install": False,
            "enterprise": None, "message_ts": message_ts, "message": message,
            "response_url": self.fake.response_url(f"sc{n}"),
        }, **options)

    async def event(self, event: dict[str, Any], event_id: str, **options: Any) -> tuple[int, str]:
        body = json.dumps({
            "token": "legacy", "team_id": "T0REGIE", "api_app_id": "A0REGIE", "event": event,
            "type": "event_callback", "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0REGIE", "user_id": BOT_USER, "is_bot": True}],
        })
        return await self.post(body, "application/json", **options)


def buttons_in(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b.get("type") == "actions" for e in b["elements"]]


def button_named(blocks: list[dict[str, Any]], name: str, value: str | None = None) -> dict[str, Any]:
    for element in buttons_in(blocks):
        if element["action_id"].split("|")[1] == name and (value is None or element["value"] == value):
            return element
    raise AssertionError(f"no button {name} {value} in {buttons_in(blocks)}")


def all_text(args: dict[str, Any]) -> str:
    """The text and every block text of a message, for assertions."""
    return json.dumps(args.get("blocks") or [], ensure_ascii=False) + str(args.get("text") or "")


@pytest.fixture
async def slack_bot(fake_slack: FakeSlack, services: Services) -> AsyncIterator[SlackBot]:
    """The bot's Slack adapter in HTTP mode against the fake Slack API."""
    started = await SlackBot(fake_slack, services).start()
    yield started
    await started.idle()
    await started.stop()
