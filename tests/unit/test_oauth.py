"""Minted bearer tokens (gateway/providers/oauth.py): the Google service-account JWT is
signed and verifiable, Entra's client-credentials form is complete, one token is minted
per grant however many requests ask at once, a token is renewed before it expires, and
a token endpoint that refuses or fails is a provider error, never a crash or a leak."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.parse
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway import errors
from gateway.providers import oauth

pytestmark = pytest.mark.anyio


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture(autouse=True)
def _fresh() -> None:
    oauth.reset()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account(key: rsa.RSAPrivateKey) -> dict[str, str]:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "client_email": "gateway@project.iam.gserviceaccount.com",
        "private_key": pem,
        "token_uri": "https://oauth2.example/token",
    }


class TokenEndpoint:
    def __init__(self, status: int = 200, body: Any = None, delay: float = 0.0) -> None:
        self.forms: list[dict[str, str]] = []
        self.status = status
        self.body = body if body is not None else {"access_token": "tok-1", "expires_in": 3599}
        self.delay = delay

    async def handler(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.delay)
        self.forms.append(dict(urllib.parse.parse_qsl(request.content.decode())))
        return httpx.Response(self.status, json=self.body)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


async def test_the_google_assertion_is_a_signed_jwt_for_the_token_uri(
    key: rsa.RSAPrivateKey,
) -> None:
    endpoint = TokenEndpoint()
    grant = oauth.google(service_account(key))
    async with endpoint.client() as client:
        assert await oauth.bearer(grant, client) == "tok-1"
    (form,) = endpoint.forms
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, claims, signature = form["assertion"].split(".")
    assert json.loads(_b64decode(header)) == {"alg": "RS256", "typ": "JWT"}
    body = json.loads(_b64decode(claims))
    assert body["iss"] == "gateway@project.iam.gserviceaccount.com"
    assert body["aud"] == "https://oauth2.example/token"
    assert body["scope"] == oauth.GOOGLE_SCOPE
    assert body["exp"] - body["iat"] == 3600
    key.public_key().verify(  # raises if the signature is wrong
        _b64decode(signature),
        f"{header}.{claims}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert "PRIVATE KEY" not in repr(grant)


def test_only_a_service_account_key_makes_a_grant(key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="service account"):
        oauth.google({**service_account(key), "type": "authorized_user"})


async def test_entra_client_credentials() -> None:
    endpoint = TokenEndpoint()
    grant = oauth.entra("tenant-1", "app-1", "s3cret", authority="https://login.example")
    assert grant.token_url == "https://login.example/tenant-1/oauth2/v2.0/token"
    async with endpoint.client() as client:
        await oauth.bearer(grant, client)
    assert endpoint.forms == [
        {
            "grant_type": "client_credentials",
            "client_id": "app-1",
            "client_secret": "s3cret",
            "scope": "https://cognitiveservices.azure.com/.default",
        }
    ]
    assert "s3cret" not in repr(grant)


async def test_one_mint_for_many_requests_and_a_renewal_before_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = TokenEndpoint(delay=0.05)
    grant = oauth.entra("t", "c", "s")
    now = [1_000_000.0]
    monkeypatch.setattr(oauth.time, "time", lambda: now[0])
    async with endpoint.client() as client:
        tokens = await asyncio.gather(*(oauth.bearer(grant, client) for _ in range(20)))
        assert set(tokens) == {"tok-1"}
        assert len(endpoint.forms) == 1
        now[0] += 3599 - oauth.EARLY_S - 1  # still fresh
        await oauth.bearer(grant, client)
        assert len(endpoint.forms) == 1
        now[0] += 2  # within EARLY_S of expiry: renewed
        endpoint.body = {"access_token": "tok-2", "expires_in": 3599}
        assert await oauth.bearer(grant, client) == "tok-2"
        assert len(endpoint.forms) == 2


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"error": "invalid_client"}, errors.UpstreamAuthError),
        (400, {"error": "invalid_grant"}, errors.UpstreamAuthError),
        (500, {"error": "server_error"}, errors.UpstreamError),
        (200, {"no": "token"}, errors.UpstreamError),
    ],
)
async def test_a_failing_token_endpoint_is_a_provider_error(
    status: int, body: Any, expected: type[errors.GatewayError]
) -> None:
    grant = oauth.entra("t", "c", "s3cret-value")
    async with TokenEndpoint(status, body).client() as client:
        with pytest.raises(expected) as caught:
            await oauth.bearer(grant, client)
    assert "s3cret-value" not in str(caught.value)
    async with TokenEndpoint().client() as client:  # a failure is not cached
        assert await oauth.bearer(grant, client) == "tok-1"


async def test_an_unreachable_token_endpoint_is_an_upstream_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    grant = oauth.entra("t", "c", "s")
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(errors.UpstreamError):
            await oauth.bearer(grant, client)
