"""A fake Google OAuth 2.0 token endpoint: ``POST /token`` for service-account JWTs.

The exchange of https://developers.google.com/identity/protocols/oauth2/service-account:
a form body ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>``,
answered ``{"access_token", "expires_in", "token_type"}``, or 400 with
``{"error", "error_description"}``. The JWT must be RS256 with ``iss``, an ``aud`` that is
this URL or any URL ending ``/token`` (a key file's default ``token_uri`` is Google's), and
an ``exp`` in the next hour. Its signature is checked only when the test has set
``SimState.google_public_key_pem`` (a public key, or the service account's private key).
Minted tokens are what the Vertex AI routes accept (``gemini_api``); mints are counted in
``SimState.google_token_mints`` so tests can see a client cache its token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from gateway.local.simulator.engine import json_response, record, sim_state

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EXPIRES_IN = 3599
MAX_LIFETIME = 3600
_SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)


class GrantError(ValueError):
    """The assertion is refused: ``str(error)`` is the ``error_description``."""

    def __init__(self, description: str, error: str = "invalid_grant") -> None:
        super().__init__(description)
        self.error = error


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _decode(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signed bytes, signature) of a compact JWS."""
    try:
        head, body, signature = assertion.split(".")
        header, claims = json.loads(_b64(head)), json.loads(_b64(body))
        raw_signature = _b64(signature)
    except (ValueError, binascii.Error):
        raise GrantError("Invalid JWT: the assertion is not a signed JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise GrantError("Invalid JWT: the assertion is not a signed JWT")
    return header, claims, f"{head}.{body}".encode(), raw_signature


def _verify_signature(pem: str, signed: bytes, signature: bytes) -> None:
    """RS256 with ``pem``: a public key, or a private key whose public half is used.
    cryptography is imported here only, as the simulator needs it for this alone."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    data = pem.encode()
    key: object
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise GrantError("Invalid JWT Signature.")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise GrantError("Invalid JWT Signature.") from None


def check_assertion(assertion: str, url: str, now: float, pem: str | None) -> dict[str, Any]:
    """The claims of an acceptable assertion posted to ``url``; GrantError otherwise."""
    header, claims, signed, signature = _decode(assertion)
    if header.get("alg") != "RS256":
        raise GrantError("Invalid JWT: the algorithm must be RS256")
    if not isinstance(claims.get("iss"), str) or not claims["iss"]:
        raise GrantError("Invalid email or User ID")
    audience = claims.get("aud")
    if not isinstance(audience, str) or not (audience == url or audience.endswith("/token")):
        raise GrantError(f"Invalid JWT: Failed audience check. The right audience is {url}")
    expires, issued = claims.get("exp"), claims.get("iat", now)
    if not isinstance(expires, int | float) or not isinstance(issued, int | float):
        raise GrantError(_SHORT_LIVED)
    if expires <= now or expires - issued > MAX_LIFETIME:
        raise GrantError(_SHORT_LIVED)
    if pem is not None:
        _verify_signature(pem, signed, signature)
    return claims


def _refused(error: GrantError) -> Response:
    body = {"error": error.error, "error_description": str(error)}
    return json_response(body, 400, {})


async def token(request: Request) -> Response:
    """``POST /token``: exchange a service-account JWT for a Vertex AI access token."""
    state = sim_state(request)
    raw = await request.body()
    state.requests.append(record(request, raw, None, "google_oauth"))
    form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"))
    grant_type = form.get("grant_type", [""])[0]
    if grant_type != JWT_BEARER:
        return _refused(GrantError(f"Invalid grant_type: {grant_type}", "unsupported_grant_type"))
    assertion = form.get("assertion", [""])[0]
    if not assertion:
        return _refused(GrantError("Missing required parameter: assertion", "invalid_request"))
    now = time.time()
    url = str(request.url.replace(query=""))
    try:
        check_assertion(assertion, url, now, state.google_public_key_pem)
    except GrantError as refused:
        return _refused(refused)
    state.google_token_mints += 1
    digest = hashlib.sha256(assertion.encode()).hexdigest()[:24]
    access_token = f"ya29.sim-{state.google_token_mints:06d}-{digest}"
    state.google_tokens[access_token] = now + EXPIRES_IN
    answer = {"access_token": access_token, "expires_in": EXPIRES_IN, "token_type": "Bearer"}
    return json_response(answer, 200, {})
