"""Tokens for Microsoft Teams: checking the ones Teams sends, getting the bot's own.

Inbound: every activity carries a Bot Framework / Entra JWT. It is checked with PyJWT against
the keys (JWKS) named by the OpenID metadata at TEAMS_API_URL: signature (RS256), issuer (the
metadata's), audience (TEAMS_APP_ID) and expiry. The Agents SDK's own validator
(`JwtTokenValidator`) picks the JWKS address from a fixed list of Microsoft hosts, so it cannot
be pointed at a sovereign cloud's or a test's issuer; hence PyJWT here, as the SDK itself uses.

Outbound: the bot's own token by client credentials (TEAMS_APP_ID + TEAMS_APP_PASSWORD) at the
token endpoint, kept until shortly before it expires.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import jwt

log = logging.getLogger(__name__)

METADATA_PATH = "/.well-known/openidconfiguration"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
CLOCK_SKEW_SECONDS = 300  # Bot Framework allows five minutes
KEY_REFRESH_SECONDS = 300  # an unknown key id fetches the keys again at most this often


class TokenRejected(Exception):
    """The token is missing, malformed, expired, for another audience or not signed by the
    issuer. The reason is for the log only (never the token)."""


class TokenValidator:
    def __init__(self, api_url: str, app_id: str, *, timeout: float = 10.0) -> None:
        self.metadata_url = api_url.rstrip("/") + METADATA_PATH
        self.app_id = app_id
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._issuer: str | None = None
        self._jwks_uri: str | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _fetch(self, url: str) -> dict[str, Any]:
        async with aiohttp.ClientSession(timeout=self.timeout) as session, \
                session.get(url) as response:
            response.raise_for_status()
            data = await response.json(content_type=None)
            if not isinstance(data, dict):
                raise TokenRejected("onverwacht antwoord van de uitgever")
            return data

    async def _refresh(self) -> None:
        metadata = await self._fetch(self.metadata_url)
        issuer, jwks_uri = metadata.get("issuer"), metadata.get("jwks_uri")
        if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
            raise TokenRejected("OpenID-metadata zonder issuer of jwks_uri")
        keys = jwt.PyJWKSet.from_dict(await self._fetch(jwks_uri))
        self._issuer, self._jwks_uri = issuer, jwks_uri
        self._keys = {key.key_id: key for key in keys.keys if key.key_id}
        self._fetched_at = time.monotonic()

    async def _key(self, kid: str) -> jwt.PyJWK:
        async with self._lock:
            stale = time.monotonic() - self._fetched_at > KEY_REFRESH_SECONDS
            if kid not in self._keys and (stale or self._issuer is None):
                try:
                    await self._refresh()
                except (aiohttp.ClientError, TimeoutError, jwt.PyJWTError, ValueError) as exc:
                    raise TokenRejected(f"sleutels niet op te halen ({type(exc).__name__})") \
                        from exc
            if kid not in self._keys:
                raise TokenRejected("onbekende sleutel")
            return self._keys[kid]

    async def validate(self, token: str) -> dict[str, Any]:
        """The token's claims when it is valid; TokenRejected otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected("geen leesbaar token") from exc
        kid = header.get("kid")
        if header.get("alg") != "RS256" or not isinstance(kid, str):
            raise TokenRejected("verkeerd algoritme of geen sleutel-id")
        key = await self._key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key=key, algorithms=["RS256"], audience=self.app_id, issuer=self._issuer,
                leeway=CLOCK_SKEW_SECONDS, options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError as exc:
            raise TokenRejected(type(exc).__name__) from exc
        return claims


class BotCredentials:
    """The bot's own access token for the connector service (client credentials)."""

    def __init__(self, token_url: str, app_id: str, password: str, *,
                 timeout: float = 10.0) -> None:
        self.token_url = token_url
        self.app_id = app_id
        self.password = password
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._token: str | None = None
        self._valid_until = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._valid_until:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        form = {"grant_type": "client_credentials", "client_id": self.app_id,
                "client_secret": self.password, "scope": BOT_FRAMEWORK_SCOPE}
        async with aiohttp.ClientSession(timeout=self.timeout) as session, \
                session.post(self.token_url, data=form) as response:
            if response.status != 200:
                raise TokenRejected(f"token geweigerd (HTTP {response.status})")
            data = await response.json(content_type=None)
        token, lifetime = data.get("access_token"), data.get("expires_in", 3600)
        if not isinstance(token, str):
            raise TokenRejected("antwoord zonder access_token")
        self._token = token
        self._valid_until = time.monotonic() + max(60.0, float(lifetime) - 300.0)


def token_url(settings_url: str | None, tenant: str | None) -> str:
    """The token endpoint: as set, or Entra ID's for the tenant (Bot Framework's own tenant
    for a multi-tenant bot)."""
    if settings_url:
        return settings_url
    return f"https://login.microsoftonline.com/{tenant or 'botframework.com'}/oauth2/v2.0/token"
