"""Where an Azure deployment's requests go and how they authenticate; `configure`.

Azure OpenAI (`azure/<deployment>`), api_base the resource endpoint
(`https://<resource>.openai.azure.com`; a trailing `/openai`, or `/openai/v1` with or
without its operation path, tolerated):

- dated API versions: `{endpoint}/openai/deployments/{deployment}/{operation}?api-version=V`,
  V from litellm_params.api_version, else DEFAULT_API_VERSION, the latest GA release
  ("Azure OpenAI API version 2024-10-21 is currently the latest GA API release":
  learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle). A missing
  api-version is Azure's 404 "Resource not found".
- the v1 API (api_version "v1", "latest" or "preview", or an api_base ending in
  /openai/v1): `{endpoint}/openai/v1/{operation}`, the deployment named by the body's
  `model`; api-version is optional there (values v1 and preview, v1 when absent), so only
  "preview" is sent.

Azure AI Foundry (`azure_ai/<model>`): the Model Inference API at
`https://<resource>.services.ai.azure.com/models/chat/completions?api-version=V` (an
api_base on that host, or any api_base whose path ends in /models; V defaults to
FOUNDRY_API_VERSION, the reference's version, and is required there), else a serverless
endpoint's `{api_base}/chat/completions` (api-version only if configured). A query
string in a Foundry api_base is kept, as LiteLLM does with the portal's target URI.

Credentials, first match wins (LiteLLM's order): `api_key` in the `api-key` header (a
Foundry serverless endpoint takes it as `Authorization: Bearer`); a static
`azure_ad_token` as `Authorization: Bearer`; `tenant_id` + `client_id` +
`client_secret`, an Entra ID client-credentials grant (oauth.py) for scope
`azure_scope` (default https://cognitiveservices.azure.com/.default) at authority
`azure_authority_host` (default https://login.microsoftonline.com; a sovereign cloud's
host, or a loopback simulator in tests).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import urllib.parse
from typing import TYPE_CHECKING, Literal

from gateway.providers import oauth
from gateway.providers.catalog import CATALOG

if TYPE_CHECKING:
    from gateway.providers.oauth import Grant
    from gateway.providers.spec import Target

Operation = Literal["chat/completions", "embeddings"]

DEFAULT_API_VERSION = "2024-10-21"
FOUNDRY_API_VERSION = "2024-05-01-preview"
V1_VERSIONS = frozenset({"v1", "latest", "preview"})
# stream_options (include_usage) exists from this dated version on (api-version-lifecycle:
# "Changes between 2024-09-01-preview and 2024-08-01-preview ... stream_options &
# include_usage added"); 2024-10-21 (GA) has it.
STREAM_USAGE_SINCE = "2024-09-01"
ENTRA_PARAMS = ("tenant_id", "client_id", "client_secret")
FOUNDRY_HOST = ".services.ai.azure.com"
_KEY_HOSTS = (FOUNDRY_HOST, ".openai.azure.com")  # Foundry hosts that take `api-key`
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")


def _text(target: Target, name: str) -> str:
    value = target.extra.get(name)
    return value.strip() if isinstance(value, str) else ""


def api_version(target: Target) -> str:
    return _text(target, "api_version")


def _split(api_base: str) -> tuple[str, str]:
    """(scheme://host/path without a trailing "/", query)."""
    parts = urllib.parse.urlsplit(api_base.strip())
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    return base, parts.query


def _resource(api_base: str) -> tuple[str, bool]:
    """An Azure OpenAI api_base as (endpoint, names the v1 API)."""
    base, _ = _split(api_base)
    base = base.removesuffix("/chat/completions").removesuffix("/embeddings")
    if base.endswith("/openai/v1"):
        return base.removesuffix("/openai/v1"), True
    return base.removesuffix("/openai"), False


def is_v1(target: Target) -> bool:
    return api_version(target) in V1_VERSIONS or _resource(target.api_base)[1]


def is_foundry_models(target: Target) -> bool:
    """An azure_ai api_base of the Model Inference API (`.../models`)."""
    base, _ = _split(target.api_base)
    base = base.removesuffix("/chat/completions")
    host = urllib.parse.urlsplit(base).hostname or ""
    return host.endswith(FOUNDRY_HOST) or base.endswith("/models")


def url(target: Target, operation: Operation) -> str:
    if target.provider == "azure_ai":
        return _foundry_url(target, operation)
    endpoint, _ = _resource(target.api_base)
    version = api_version(target)
    if is_v1(target):
        query = "?api-version=preview" if version == "preview" else ""
        return f"{endpoint}/openai/v1/{operation}{query}"
    deployment = urllib.parse.quote(target.model, safe="")
    query = urllib.parse.urlencode({"api-version": version or DEFAULT_API_VERSION})
    return f"{endpoint}/openai/deployments/{deployment}/{operation}?{query}"


def _foundry_url(target: Target, operation: Operation) -> str:
    base, query = _split(target.api_base)
    base = base.removesuffix(f"/{operation}")
    params = dict(urllib.parse.parse_qsl(query))
    version = api_version(target)
    if is_foundry_models(target):
        base = base.removesuffix("/models") + "/models"
        version = version or FOUNDRY_API_VERSION
    if version:
        params.setdefault("api-version", version)
    tail = f"?{urllib.parse.urlencode(params)}" if params else ""
    return f"{base}/{operation}{tail}"


def streams_usage(target: Target) -> bool:
    """Whether the API takes stream_options.include_usage: the catalog row says so (not
    Foundry's Model Inference API, which lists no stream_options and refuses unknown
    fields by default, `extra-parameters: error`: a 422 "Extra inputs are not
    permitted"), and so does the API version."""
    row = CATALOG.get(target.provider)
    if row is None or not row.stream_usage:
        return False
    return is_v1(target) or (api_version(target) or DEFAULT_API_VERSION) >= STREAM_USAGE_SINCE


def headers(target: Target) -> dict[str, str]:
    """Content type and a static credential (a minted one comes from `grant`)."""
    out = {"content-type": "application/json"}
    token = _text(target, "azure_ad_token")
    if target.api_key:
        if target.provider == "azure" or _takes_key_header(target):
            out["api-key"] = target.api_key
        else:
            out["authorization"] = f"Bearer {target.api_key}"
    elif token:
        out["authorization"] = f"Bearer {token}"
    return out


def _takes_key_header(target: Target) -> bool:
    host = urllib.parse.urlsplit(target.api_base.strip()).hostname or ""
    return host.endswith(_KEY_HOSTS) or is_foundry_models(target)


def grant(target: Target) -> Grant | None:
    """The Entra ID grant, when neither a key nor a static token is configured."""
    if target.api_key or _text(target, "azure_ad_token"):
        return None
    tenant, client, secret = (_text(target, name) for name in ENTRA_PARAMS)
    if not (tenant and client and secret):
        return None
    minted = oauth.entra(tenant, client, secret, _text(target, "azure_authority_host"))
    scope = _text(target, "azure_scope")
    return dataclasses.replace(minted, scope=scope) if scope else minted


def configure(target: Target) -> Target:
    """Refuse, at config load, a deployment Azure could never answer."""
    if not target.api_base.strip():
        raise ValueError(f"{target.provider} needs an api_base (the resource endpoint)")
    _check_base(target)
    _check_version(target)
    _check_credentials(target)
    authority = _text(target, "azure_authority_host")
    if authority and not _safe_authority(authority):
        raise ValueError("azure_authority_host must be an https:// URL")
    return target


def _check_base(target: Target) -> None:
    parts = urllib.parse.urlsplit(target.api_base.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("api_base must be an http(s) URL")
    if target.provider != "azure":
        return
    if "/openai/deployments" in parts.path:
        raise ValueError(
            "api_base must be the resource endpoint (https://<resource>.openai.azure.com), "
            "not a deployment URL: the deployment is the model name (azure/<deployment>)"
        )
    if parts.query:
        raise ValueError("api_base takes no query string: set api_version instead")


def _check_version(target: Target) -> None:
    version = api_version(target)
    if not version:
        return
    if version not in V1_VERSIONS and not _VERSION.fullmatch(version):
        raise ValueError(
            f"api_version '{version}' is neither a dated version (2024-10-21, "
            "2025-01-01-preview) nor one of v1, latest, preview"
        )
    on_v1 = target.provider == "azure" and _resource(target.api_base)[1]
    if on_v1 and version not in V1_VERSIONS:
        raise ValueError(
            f"api_base ends in /openai/v1 (the v1 API), which takes no dated api_version "
            f"('{version}')"
        )


def _check_credentials(target: Target) -> None:
    """A half-given Entra credential is a config error. None at all is not (one unset
    secret must not take down every model, config.py): the deployment's requests then
    go without one, and Azure's 401 is the client's upstream_auth_failed."""
    if target.api_key or _text(target, "azure_ad_token"):
        return
    given = [name for name in ENTRA_PARAMS if _text(target, name)]
    if given and len(given) < len(ENTRA_PARAMS):
        missing = ", ".join(name for name in ENTRA_PARAMS if name not in given)
        raise ValueError(f"an Entra ID credential needs {missing} too")


def _safe_authority(value: str) -> bool:
    """The client secret goes there: https, or plain http to a loopback address only."""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False
