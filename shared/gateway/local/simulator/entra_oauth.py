"""A fake Microsoft Entra ID token endpoint: ``POST /{tenant}/oauth2/v2.0/token``.

The client-credentials grant of
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow: a
form body ``grant_type=client_credentials&client_id=...&client_secret=...&scope=...``
(the scope a resource's ``/.default``), answered
``{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token"}``,
or Entra's error body ``{"error", "error_description", "error_codes"}``: 400 for a
missing parameter, another grant type or a scope not ending in ``/.default``, 401
``invalid_client`` for a client secret starting with ``bad-`` (the simulator's way to
refuse a credential). A deployment points its ``azure_authority_host`` at the simulator.

Tokens are self-verifying (an HMAC over tenant, client and expiry), so the Azure routes
(``azure_api``) accept exactly the tokens minted here without shared state; every mint is
recorded in ``SimState.requests`` (vendor ``entra``), so tests count mints there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from gateway.local.simulator.engine import json_response, record, sim_state

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

PATH = "/{tenant}/oauth2/v2.0/token"
EXPIRES_IN = 3599
TOKEN_PREFIX = "sim-entra."  # noqa: S105 - a fake token's prefix
_SIGNING_KEY = b"gateway-simulator-entra"  # a fake authority's key, not a secret
_REFUSED_SECRET = "bad-"  # noqa: S105 - the prefix of secrets this fake refuses


def mint(tenant: str, client_id: str, now: float) -> str:
    claims = {"tid": tenant, "appid": client_id, "exp": int(now) + EXPIRES_IN}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    signature = hmac.new(_SIGNING_KEY, payload.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{TOKEN_PREFIX}{payload}.{signature}"


def valid(token: str, now: float) -> bool:
    """Minted here and not expired."""
    payload, _, signature = token.removeprefix(TOKEN_PREFIX).partition(".")
    if not token.startswith(TOKEN_PREFIX) or not signature:
        return False
    expected = hmac.new(_SIGNING_KEY, payload.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(signature, expected):
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return False
    return isinstance(claims, dict) and float(claims.get("exp", 0)) > now


def _error(status: int, error: str, code: int, description: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
    }


_UNSUPPORTED_GRANT = "The app requested an unsupported grant type."
_INVALID_CLIENT = (
    "Invalid client secret provided. Ensure the secret being sent in the request is the "
    "client secret value, not the client secret ID."
)


def _refusal(form: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
    for name in ("grant_type", "client_id", "client_secret", "scope"):
        if not form.get(name):
            message = f"The request body must contain the following parameter: '{name}'."
            return _error(400, "invalid_request", 900144, message)
    if form["grant_type"] != "client_credentials":
        return _error(400, "unsupported_grant_type", 70003, _UNSUPPORTED_GRANT)
    scope = form["scope"]
    if not scope.endswith("/.default"):
        message = (
            "The provided value for the input parameter 'scope' is not valid. "
            f"The scope {scope} is not valid."
        )
        return _error(400, "invalid_scope", 70011, message)
    if form["client_secret"].startswith(_REFUSED_SECRET):
        return _error(401, "invalid_client", 7000215, _INVALID_CLIENT)
    return None


async def token(request: Request) -> Response:
    raw = await request.body()
    sim_state(request).requests.append(record(request, raw, None, "entra"))
    form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace")))
    refused = _refusal(form)
    if refused is not None:
        return json_response(refused[1], refused[0], {})
    tenant = str(request.path_params["tenant"])
    body = {
        "token_type": "Bearer",
        "expires_in": EXPIRES_IN,
        "ext_expires_in": EXPIRES_IN,
        "access_token": mint(tenant, form["client_id"], time.time()),
    }
    return json_response(body, 200, {})


def routes() -> list[Route]:
    return [Route(PATH, token, methods=["POST"])]
