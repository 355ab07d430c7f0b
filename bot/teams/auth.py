"""Tokens for Microsoft Teams: checking the ones Teams sends, getting the bot's own.

Inbound: every activity carries a Bot Framework / Entra JWT. It is checked with PyJWT against
the keys (JWKS) named by the OpenID metadata at TEAMS_API_URL: signature (RS256), issuer (the
metadata's), audience (TEAMS_APP_ID) and expiry. The Agents SDK's own validator
(`JwtTokenValidator`) picks the JWKS address from a fixed list of Microsoft hosts, so it cannot
be pointed at a sovereign cloud's or a test's issuer; hence PyJWT here, as the SDK itself uses.

Outbound: the bot's own token by client credentials (TEAMS_APP_ID + TEAMS_APP_PASSWORD), got
and cached by the Agents SDK's MSAL provider (microsoft-agents-authentication-msal) from the
Entra ID authority.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import jwt
import requests
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration, AuthTypes

log = logging.getLogger(__name__)

METADATA_PATH = "/.well-known/openidconfiguration"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
BOT_FRAMEWORK_RESOURCE = "https://api.botframework.com"
BOT_FRAMEWORK_TENANT = "botframework.com"
SERVICE_CONNECTION = "SERVICE_CONNECTION"  # the SDK's name of the default connection
TOKEN_PATHS = ("/oauth2/v2.0/token", "/oauth2/token")
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
    """The bot's own access token for the connector service, from the Agents SDK's MSAL token
    provider (`MsalConnectionManager`, client credentials with TEAMS_APP_ID and
    TEAMS_APP_PASSWORD at the Entra ID authority). MSAL keeps the token in its cache and asks
    for a new one shortly before it expires."""

    def __init__(self, authority: str, app_id: str, password: str, tenant: str | None) -> None:
        self.authority = authority
        config = AgentAuthConfiguration(
            AuthTypes.client_secret, app_id, tenant or BOT_FRAMEWORK_TENANT, password,
            authority=authority, scopes=[BOT_FRAMEWORK_SCOPE])
        self.provider = MsalConnectionManager(
            connections_configurations={SERVICE_CONNECTION: config}).get_default_connection()
        self._warm = False
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        """The access token; TokenRejected when the authority refuses it or cannot be reached
        (the reason for the log only)."""
        try:
            if not self._warm:
                async with self._lock:
                    if not self._warm:
                        # the first call makes MSAL's client, which reads the authority's
                        # OpenID metadata without await: off the event loop, in a thread
                        token = await asyncio.to_thread(asyncio.run, self._get())
                        self._warm = True
                        return token
            return await self._get()
        except (ValueError, requests.RequestException) as exc:
            raise TokenRejected(f"token niet gekregen ({type(exc).__name__})") from exc

    async def _get(self) -> str:
        return await self.provider.get_access_token(BOT_FRAMEWORK_RESOURCE, [BOT_FRAMEWORK_SCOPE])


def authority(token_url: str | None, tenant: str | None) -> str:
    """The Entra ID authority the token comes from: TEAMS_TOKEN_URL without its
    `/oauth2/v2.0/token` (a sovereign cloud's, or a test's), or else Entra ID's for the tenant
    (Bot Framework's own tenant for a multi-tenant bot)."""
    if token_url:
        base = token_url.rstrip("/")
        for end in TOKEN_PATHS:
            if base.endswith(end):
                return base[: -len(end)]
        return base
    return f"https://login.microsoftonline.com/{tenant or BOT_FRAMEWORK_TENANT}"
