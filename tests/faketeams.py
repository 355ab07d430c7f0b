"""A fake Microsoft Teams on 127.0.0.1: the issuer of the tokens Teams sends (OpenID metadata,
JWKS), an Entra ID authority for the bot's own token (client credentials) and a connector
service (conversations, activities), over real HTTP.

The authority is what the Agents SDK's MSAL provider talks to: HTTPS with a certificate made
per test (trusted through REQUESTS_CA_BUNDLE), OpenID metadata and a token endpoint. Its path
is `/adfs`, the one form of a non-Microsoft authority host MSAL takes without asking
login.microsoftonline.com whether it knows the host (its instance discovery). It runs in a
thread of its own: MSAL reads the metadata without await.

The RSA key is made per test; `token()` signs what Teams would send, `send()` posts an
activity to the bot's `/api/messages` with it. Every connector call is recorded; tests wait on
them with `wait_for` / `next_call`, never on a pause.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import itertools
import ssl
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from bot.delivery import Deliveries
from bot.settings import Settings
from bot.teams import TeamsAdapter, create_teams
from commands.context import Services
from tests.faketelegram import free_port

APP_ID = "00000000-0000-0000-0000-00000000b07"
APP_PASSWORD = "geheim-van-de-test"
TENANT = "11111111-1111-1111-1111-111111111111"
KID = "testsleutel"
WAIT_SECONDS = 10.0


@dataclass
class Call:
    method: str
    path: str
    conversation: str | None
    activity: str | None
    body: dict[str, Any] = field(default_factory=dict)
    made: str | None = None  # the id of the activity the connector made for this call
    status: int = 200

    @property
    def text(self) -> str:
        inner = self.body.get("activity") if "activity" in self.body else self.body
        return str((inner or {}).get("text") or "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        inner = self.body.get("activity") if "activity" in self.body else self.body
        found: list[dict[str, Any]] = []
        for attachment in (inner or {}).get("attachments") or []:
            found.extend(attachment.get("content", {}).get("actions", []))
        return found


    @property
    def card(self) -> dict[str, Any] | None:
        """The Adaptive Card of a form (one with inputs), if the call holds one."""
        inner = self.body.get("activity") if "activity" in self.body else self.body
        for attachment in (inner or {}).get("attachments") or []:
            content = attachment.get("content") or {}
            if any(str(item.get("type", "")).startswith("Input.")
                   for item in content.get("body") or []):
                return dict(content)
        return None


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A form card's inputs by id."""
    return {item["id"]: item for item in card.get("body") or []
            if str(item.get("type", "")).startswith("Input.")}


def fill(card: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """What Teams sends when the card's submit is pressed: the submit's data and every input's
    value (as typed over what the card showed; several choices as "a,b"; empty as "")."""
    value = dict(card["actions"][0]["data"])
    for name, item in inputs(card).items():
        given = answers.get(name, item.get("value", ""))
        value[name] = ",".join(given) if isinstance(given, list) else str(given)
    return value


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Limit:
    times: int
    retry_after: str | None
    where: str | None
    status: int = 429


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files in `folder`."""
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "authority.pem", folder / "authority.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Authority:
    """Entra ID for the bot's own token, over HTTPS, served by a thread with its own loop."""

    PATH = "/adfs"

    def __init__(self, issued: list[str]) -> None:
        self.issued = issued  # shared with the connector, which accepts only these tokens
        self.requests: list[dict[str, str]] = []  # the token requests' forms
        self._folder = tempfile.TemporaryDirectory(prefix="faketeams-")
        self.cert_file, self._key_file = self_signed(Path(self._folder.name))
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{self.PATH}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth2/v2.0/token"

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(ready),),
                                        name="fake-entra", daemon=True)
        self._thread.start()
        if not ready.wait(WAIT_SECONDS):
            raise RuntimeError("de nep-Entra start niet")

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(WAIT_SECONDS)
        self._folder.cleanup()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop, self._stopped = asyncio.get_running_loop(), asyncio.Event()
        app = web.Application()
        app.router.add_get(f"{self.PATH}/.well-known/openid-configuration", self._metadata)
        app.router.add_post(f"{self.PATH}/oauth2/v2.0/token", self._token)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self._key_file)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        await self._stopped.wait()
        await runner.cleanup()

    async def _metadata(self, _request: web.Request) -> web.Response:
        return web.json_response({"issuer": self.url, "token_endpoint": self.token_url,
                                  "authorization_endpoint": f"{self.url}/oauth2/v2.0/authorize"})

    async def _token(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.requests.append(form)
        if form.get("client_id") != APP_ID or form.get("client_secret") != APP_PASSWORD:
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "client_credentials" \
                or form.get("scope") != "https://api.botframework.com/.default":
            return web.json_response({"error": "invalid_request"}, status=400)
        token = f"bot-token-{len(self.issued) + 1}"
        self.issued.append(token)
        return web.json_response({"access_token": token, "token_type": "Bearer",
                                  "expires_in": 3600})


class FakeTeams:
    def __init__(self) -> None:
        self.key = new_key()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: list[Call] = []
        self.issued: list[str] = []
        self.authority = Authority(self.issued)
        self.changed = asyncio.Condition()
        self._ids = itertools.count(1_700_000_000_001)
        self.runner: web.AppRunner | None = None
        self.bot_url = ""
        self.texts: dict[str, str] = {}  # activity id → its current text
        self.limits: list[Limit] = []

    # --- the server -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/keys", self._keys)
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._reply)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        await asyncio.to_thread(self.authority.start)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        await asyncio.to_thread(self.authority.stop)

    async def _metadata(self, _request: web.Request) -> web.Response:
        return web.json_response({"issuer": self.url, "jwks_uri": f"{self.url}/keys",
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def _keys(self, _request: web.Request) -> web.Response:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return web.json_response({"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]})

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and token in self.issued

    async def _record(self, request: web.Request, activity: str | None = None,
                      made: str | None = None, status: int = 200) -> Call:
        body = await request.json()
        call = Call(request.method, request.path, request.match_info.get("conversation"),
                    activity, body, made, status)
        async with self.changed:
            self.calls.append(call)
            self.changed.notify_all()
        return call

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401)
        if (limited := await self._limited(request)) is not None:
            return limited
        new = str(next(self._ids))
        call = await self._record(request, made=new)
        if call.body.get("isGroup"):
            channel = call.body["channelData"]["channel"]["id"]
            self.texts[new] = call.text
            return web.json_response({"id": f"{channel};messageid={new}", "activityId": new})
        member = call.body["members"][0]["id"]
        return web.json_response({"id": f"a:1on1-{member}"})

    async def _send(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401)
        if (limited := await self._limited(request)) is not None:
            return limited
        new = str(next(self._ids))
        call = await self._record(request, made=new)
        self.texts[new] = call.text
        return web.json_response({"id": new})

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._send(request)

    async def _update(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401)
        if (limited := await self._limited(request)) is not None:
            return limited
        activity = request.match_info["activity"]
        call = await self._record(request, activity)
        self.texts[activity] = call.text
        return web.json_response({"id": activity})

    async def _limited(self, request: web.Request) -> web.Response | None:
        conversation = request.match_info.get("conversation")
        if conversation is None:
            body = await request.json()
            conversation = ((body.get("channelData") or {}).get("channel") or {}).get("id") \
                or (body.get("members") or [{}])[0].get("id")
        where = str(conversation or "").partition(";messageid=")[0]
        limit = next((limit for limit in self.limits
                      if limit.times > 0 and limit.where in (None, where)), None)
        if limit is None:
            return None
        limit.times -= 1
        await self._record(request, request.match_info.get("activity"), status=limit.status)
        headers = {"Retry-After": limit.retry_after} if limit.retry_after is not None else {}
        code = "TooManyRequests" if limit.status == 429 else "BotNotInConversationRoster"
        return web.json_response({"error": {"code": code, "message": code}},
                                 status=limit.status, headers=headers)

    # --- what the tests use -----------------------------------------------------------------

    def rate_limit(self, times: int, retry_after: str | None = "1", *,
                   where: str | None = None) -> None:
        """Answer the next `times` connector calls (in conversation or channel `where`, or
        anywhere) with 429 and this Retry-After."""
        self.limits.append(Limit(times, retry_after, where))

    def not_installed(self, channel: str, status: int = 403) -> None:
        """Answer every call in `channel` with 403 (or 404), as when the app is not in its
        team."""
        self.limits.append(Limit(10**9, None, channel, status))

    def installed(self, channel: str) -> None:
        self.limits = [limit for limit in self.limits
                       if not (limit.where == channel and limit.status in (403, 404))]

    def token(self, *, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": self.url, "aud": APP_ID, "iat": now, "nbf": now, "exp": now + 3600,
                   "serviceurl": self.url, **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": KID})

    def activity(self, user: str, text: str = "", *, conversation: str = "a:1on1-test",
                 kind: str = "personal", mention: bool = False, value: Any = None,
                 aad: str | None = None, reply_to: str | None = None) -> dict[str, Any]:
        activity_id = str(next(self._ids))
        body: dict[str, Any] = {
            "type": "message", "id": activity_id, "channelId": "msteams",
            "serviceUrl": self.url, "text": text,
            "from": {"id": user, **({"aadObjectId": aad} if aad else {})},
            "recipient": {"id": f"28:{APP_ID}", "name": "regiebot"},
            "conversation": {"id": conversation, "conversationType": kind, "tenantId": TENANT},
        }
        if mention:
            body["text"] = f"<at>regiebot</at> {text}"
            body["entities"] = [{"type": "mention", "text": "<at>regiebot</at>",
                                 "mentioned": {"id": f"28:{APP_ID}", "name": "regiebot"}}]
        if value is not None:
            body["value"] = value
        if reply_to is not None:
            body["replyToId"] = reply_to
        return body

    async def send(self, activity: dict[str, Any], token: str | None = "valid") -> int:
        """Post an activity to the bot the way Teams does; the HTTP status."""
        headers = {}
        if token == "valid":
            token = self.token()
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with aiohttp.ClientSession() as session, \
                session.post(self.bot_url, json=activity, headers=headers) as response:
            return response.status

    def sent(self, predicate: Callable[[Call], bool] = lambda _c: True) -> list[Call]:
        return [call for call in self.calls if predicate(call)]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_SECONDS), self.changed:
            await self.changed.wait_for(predicate)

    async def next_call(self, predicate: Callable[[Call], bool], *, after: int = 0) -> Call:
        await self.wait_for(lambda: any(predicate(c) for c in self.calls[after:]))
        return next(c for c in self.calls[after:] if predicate(c))

    def mark(self) -> int:
        return len(self.calls)


def teams_settings(fake: FakeTeams) -> Settings:
    return Settings.model_validate({
        "TEAMS_APP_ID": APP_ID, "TEAMS_APP_PASSWORD": APP_PASSWORD, "TEAMS_TENANT_ID": TENANT,
        "TEAMS_API_URL": fake.url, "TEAMS_TOKEN_URL": fake.authority.token_url,
        "TEAMS_SERVICE_URL": fake.url,
    })


@pytest.fixture
async def fake_teams(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTeams]:
    fake = FakeTeams()
    await fake.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.authority.cert_file))
    yield fake
    await fake.stop()


@pytest.fixture
def teams_deliveries() -> Deliveries:
    return Deliveries()


@pytest.fixture
async def teams_bot(services: Services, fake_teams: FakeTeams,
                    teams_deliveries: Deliveries) -> AsyncIterator[TeamsAdapter]:
    adapter = create_teams(services, teams_settings(fake_teams), teams_deliveries)
    app = web.Application()
    adapter.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fake_teams.bot_url = f"http://127.0.0.1:{port}/api/messages"
    yield adapter
    await adapter.stop()
    await runner.cleanup()
