"""Bearer tokens minted from credentials (OAuth 2.0), cached per sandbox until shortly
before they expire: Google service accounts (Vertex AI) and Microsoft Entra ID client
credentials (Azure OpenAI).

A dialect stays pure: it puts a `Grant` (what to mint with) on its UpstreamRequest, and
the transport asks `bearer(grant)` for the token before it sends. One sandbox mints a
token once per grant and hour, not once per request; concurrent requests wait for the
same mint. A token endpoint that refuses or cannot be reached is the provider's failure
(an authentication error or an upstream error), never a crash.

- Google (https://developers.google.com/identity/protocols/oauth2/service-account):
  a JWT (RS256, signed with the service account's private key) with iss = client_email,
  scope, aud = token_uri, iat and exp (one hour), exchanged at token_uri with
  grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer.
- Entra ID (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow):
  POST https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token with client_id,
  client_secret, scope and grant_type=client_credentials.
Both answer {"access_token", "expires_in"}.
"""

from __future__ import annotations

import asyncio
import base64
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Literal

import httpx
import orjson

from gateway import errors

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - an endpoint
GOOGLE_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
ENTRA_AUTHORITY = "https://login.microsoftonline.com"
AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"
EARLY_S = 300  # a token is renewed this long before it expires
TIMEOUT_S = 10.0

Kind = Literal["google_service_account", "entra_client_credentials"]


@dataclass(frozen=True, slots=True)
class Grant:
    """What to mint a token with (hashable: the cache's key). Never logged."""

    kind: Kind
    token_url: str
    client_id: str  # Google: the service account's client_email; Entra: the app's id
    # Google: its private_key (PEM); Entra: the client secret. Never in a repr or a log.
    secret: str = field(default="", repr=False)
    scope: str = ""


def google(info: dict[str, str]) -> Grant:
    """A grant from a service account's JSON key (its type must be service_account)."""
    if info.get("type") != "service_account" or not info.get("private_key"):
        raise ValueError("Vertex AI credentials must be a service account key (JSON)")
    return Grant(
        "google_service_account",
        info.get("token_uri") or GOOGLE_TOKEN_URL,
        info["client_email"],
        info["private_key"],
        GOOGLE_SCOPE,
    )


def entra(tenant_id: str, client_id: str, client_secret: str, authority: str = "") -> Grant:
    base = (authority or ENTRA_AUTHORITY).rstrip("/")
    return Grant(
        "entra_client_credentials",
        f"{base}/{urllib.parse.quote(tenant_id, safe='')}/oauth2/v2.0/token",
        client_id,
        client_secret,
        AZURE_SCOPE,
    )


@dataclass(slots=True)
class _Token:
    value: str
    renew_at: float


_tokens: dict[Grant, _Token] = {}
_minting: dict[Grant, asyncio.Future[_Token]] = {}


async def bearer(grant: Grant, client: httpx.AsyncClient) -> str:
    """A valid access token for the grant, minted at most once at a time per grant."""
    token = _tokens.get(grant)
    if token is not None and time.time() < token.renew_at:
        return token.value
    pending = _minting.get(grant)
    if pending is None:
        pending = _minting[grant] = asyncio.ensure_future(_mint(grant, client))
        pending.add_done_callback(lambda _: _minting.pop(grant, None))
    token = await asyncio.shield(pending)
    _tokens[grant] = token
    return token.value


def reset() -> None:
    """Forget every token (SnapStart restore, tests)."""
    _tokens.clear()


async def _mint(grant: Grant, client: httpx.AsyncClient) -> _Token:
    form = _form(grant)
    try:
        response = await client.post(
            grant.token_url,
            data=form,
            headers={"accept": "application/json"},
            timeout=TIMEOUT_S,
        )
    except httpx.HTTPError:
        raise errors.UpstreamError("The gateway could not reach the token endpoint.") from None
    if response.status_code in (400, 401, 403):
        raise errors.UpstreamAuthError(
            f"The provider's token endpoint refused the gateway's credentials "
            f"({response.status_code})."
        )
    if response.status_code != 200:
        raise errors.UpstreamError(f"The token endpoint answered {response.status_code}.")
    try:
        answer = orjson.loads(response.content)
        value = str(answer["access_token"])
        lifetime = float(answer.get("expires_in", 3600))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise errors.UpstreamError("The token endpoint answered no token.") from None
    return _Token(value, time.time() + max(lifetime - EARLY_S, lifetime / 2))


def _form(grant: Grant) -> dict[str, str]:
    if grant.kind == "entra_client_credentials":
        return {
            "grant_type": "client_credentials",
            "client_id": grant.client_id,
            "client_secret": grant.secret,
            "scope": grant.scope,
        }
    return {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": _google_assertion(grant),
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _google_assertion(grant: Grant) -> str:
    """The service account's signed JWT (RS256). cryptography is imported here only:
    a gateway without Vertex deployments never loads it."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    now = int(time.time())
    header = _b64(orjson.dumps({"alg": "RS256", "typ": "JWT"}))
    claims = _b64(
        orjson.dumps(
            {
                "iss": grant.client_id,
                "scope": grant.scope,
                "aud": grant.token_url,
                "iat": now,
                "exp": now + 3600,
            }
        )
    )
    key = serialization.load_pem_private_key(grant.secret.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise errors.UpstreamAuthError("The service account's private key is not an RSA key.")
    signed = f"{header}.{claims}".encode()
    signature = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{claims}.{_b64(signature)}"
