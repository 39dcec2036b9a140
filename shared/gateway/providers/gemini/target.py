"""Where a Gemini deployment sends its requests, and with which credentials.

Two catalog rows share the dialect:

- `gemini` (Google AI Studio, the Gemini API, v1beta):
  POST {api_base}/v1beta/models/{model}:generateContent, or
  :streamGenerateContent?alt=sse to stream (https://ai.google.dev/api/generate-content),
  with the key in the `x-goog-api-key` header (https://ai.google.dev/gemini-api/docs/api-key).
- `vertex_ai` (Vertex AI, v1):
  POST https://{host}/v1/projects/{project}/locations/{location}/publishers/google/models/
  {model}:generateContent (stream likewise), where host is aiplatform.googleapis.com for
  the "global" location, aiplatform.{us,eu}.rep.googleapis.com for the multi-regions
  and {location}-aiplatform.googleapis.com otherwise
  (https://cloud.google.com/vertex-ai/generative-ai/docs/learn/locations; the
  google-genai SDK's _api_client.py picks hosts the same way). LiteLLM's
  litellm_params name the deployment: vertex_project, vertex_location (default
  us-central1) and vertex_credentials, a service account's JSON key (a string, as the
  provider-secrets secret delivers it through `os.environ/NAME`, or a mapping). An
  api_base replaces the scheme and host. The key becomes an OAuth grant (oauth.py):
  the transport mints and caches the bearer token.

`configure` checks a deployment once, at config load. A credential named through an
unset `os.environ/NAME` is not a config error (one missing secret must not take down
every model, as for every provider's key): that deployment's requests fail with
upstream_auth_failed until the secret exists, and the router moves on.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.providers import oauth

if TYPE_CHECKING:
    from gateway.providers.oauth import Grant
    from gateway.providers.spec import Target

API_VERSION = "v1beta"  # AI Studio; thinking, responseJsonSchema and signatures live here
VERTEX_VERSION = "v1"
DEFAULT_LOCATION = "us-central1"
MULTI_REGIONS = frozenset({"us", "eu"})
GRANT = "vertex_grant"  # where configure keeps a Vertex deployment's parsed credentials
# A deployment whose key, project or credentials come from an unset secret.
NOT_CONFIGURED = "The provider credentials for this model are not configured."


def configure(target: Target) -> Target:
    """Validate and normalize a deployment (ValueError says what is wrong)."""
    if target.provider == "vertex_ai":
        return _configure_vertex(target)
    model = target.model.removeprefix("models/")  # the API's own resource name
    if not model:
        raise ValueError("needs a model id after 'gemini/'")
    if not target.api_base:
        raise ValueError("needs an api_base")
    return dataclasses.replace(target, model=model)


def _configure_vertex(target: Target) -> Target:
    extra = dict(target.extra)
    given = set(extra) | ({"vertex_credentials"} if GRANT in extra else set())  # configured
    missing = [name for name in ("vertex_project", "vertex_credentials") if name not in given]
    if missing:
        raise ValueError(f"needs {' and '.join(missing)} in litellm_params for Vertex AI")
    if target.model.startswith("claude") or "/" in target.model:
        raise ValueError(
            "Vertex AI serves only Google's Gemini models through this dialect "
            "(publishers/google); other publishers' models are not supported"
        )
    location = extra.get("vertex_location") or DEFAULT_LOCATION
    project = extra["vertex_project"]
    if not isinstance(location, str) or (project is not None and not isinstance(project, str)):
        raise ValueError("vertex_project and vertex_location must be strings")
    extra["vertex_location"] = location
    credentials = extra.pop("vertex_credentials", None)
    if credentials is not None:
        extra[GRANT] = oauth.google(_service_account(credentials))
    api_base = target.api_base or f"https://{vertex_host(location)}"
    return dataclasses.replace(target, api_base=api_base, extra=extra)


def _service_account(credentials: Any) -> dict[str, str]:
    info = credentials
    if isinstance(credentials, str):
        try:
            info = json.loads(credentials)
        except ValueError:
            raise ValueError(
                "vertex_credentials must be a service account's JSON key "
                "(its text, not a file path)"
            ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError("vertex_credentials must be a service account key (type service_account)")
    fields = ("client_email", "private_key")
    if not all(isinstance(info.get(name), str) and info[name] for name in fields):
        raise ValueError("vertex_credentials must hold the key's client_email and private_key")
    return {k: v for k, v in info.items() if isinstance(v, str)}


def vertex_host(location: str) -> str:
    """The endpoint host of a location, as the google-genai SDK picks it."""
    if location == "global":
        return "aiplatform.googleapis.com"
    if location in MULTI_REGIONS:
        return f"aiplatform.{location}.rep.googleapis.com"
    return f"{location}-aiplatform.googleapis.com"


def url(target: Target, *, stream: bool) -> str:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    base = target.api_base.rstrip("/")
    if target.provider == "vertex_ai":
        project = target.extra.get("vertex_project")
        location = target.extra.get("vertex_location") or DEFAULT_LOCATION
        if not project:
            raise errors.UpstreamAuthError(NOT_CONFIGURED)
        return (
            f"{base}/{VERTEX_VERSION}/projects/{project}/locations/{location}"
            f"/publishers/google/models/{target.model}:{method}"
        )
    base = base.removesuffix(f"/{API_VERSION}")  # LiteLLM accepts either spelling
    return f"{base}/{API_VERSION}/models/{target.model}:{method}"


def auth(target: Target) -> tuple[dict[str, str], Grant | None]:
    """(headers, OAuth grant) for the request; the transport adds the bearer token."""
    if target.provider == "vertex_ai":
        grant = target.extra.get(GRANT)
        if grant is None:
            raise errors.UpstreamAuthError(NOT_CONFIGURED)
        return {}, grant
    if not target.api_key:
        raise errors.UpstreamAuthError(NOT_CONFIGURED)
    return {"x-goog-api-key": target.api_key}, None
