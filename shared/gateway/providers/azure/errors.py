"""Azure's errors: OpenAI's mapping (gateway/providers/openai.py) plus what only Azure says.

- Content filtering (learn.microsoft.com/azure/ai-foundry/openai/concepts/content-filter):
  a 400 `{"error": {"code": "content_filter", "param": "prompt", "status": 400,
  "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result":
  {"hate": {"filtered": true, "severity": "medium"}, ...}}}}`. The client gets a
  ContentPolicyError naming the filtered categories, in the gateway's words, never
  Azure's body. Azure charges for the evaluated prompt ("When content filtering is
  triggered for a prompt and a "status": 400 is received ... there is a charge for
  this request": concepts/content-streaming), so the error is `billed`.
- `{"error": {"code": "DeploymentNotFound", ...}}` (404): the configured deployment does
  not exist at that resource; `{"error": {"code": "404", "message": "Resource not
  found"}}`: no API at that URL (a wrong api_base, or a missing or unknown
  api-version). Both are the gateway's configuration errors (502), not the client's.
- 401 `{"error": {"code": "401", "message": "Access denied due to invalid subscription
  key or wrong API endpoint. ..."}}`, 429 with `retry-after` / `retry-after-ms`,
  `context_length_exceeded` and the rest are OpenAI's shapes and statuses.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson

from gateway import errors
from gateway.providers import openai

if TYPE_CHECKING:
    from collections.abc import Mapping

ERRORS: dict[str, type[errors.GatewayError]] = {
    **openai.ERRORS,
    "ResponsibleAIPolicyViolation": errors.ContentPolicyError,
    "DeploymentNotFound": errors.UpstreamError,
}
_FILTER_CODES = frozenset({"content_filter", "ResponsibleAIPolicyViolation"})
_CATEGORY = re.compile(r"[a-z][a-z_]{0,39}")
_SEVERITIES = frozenset({"safe", "low", "medium", "high"})


def _error_object(data: Any) -> dict[str, Any] | None:
    """`{"error": {...}}`, or a Foundry error's top-level `code` and `message`."""
    if not isinstance(data, dict):
        return None
    inner = data.get("error")
    if isinstance(inner, dict):
        return inner
    return data if isinstance(data.get("code"), str) else None


def _inner(error: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = error.get("innererror")
    return inner if isinstance(inner, dict) else {}


def is_content_filter(error: Mapping[str, Any]) -> bool:
    return bool({error.get("code"), _inner(error).get("code")} & _FILTER_CODES)


def _categories(error: Mapping[str, Any]) -> list[str]:
    """The filtered categories, as `name (severity)`: names and severities from Azure's
    closed vocabularies only, so nothing else of the body reaches the client."""
    results = _inner(error).get("content_filter_result")
    out: list[str] = []
    for name, result in sorted(results.items()) if isinstance(results, dict) else []:
        if not (isinstance(result, dict) and result.get("filtered") is True):
            continue
        if not _CATEGORY.fullmatch(str(name)):
            continue
        severity = result.get("severity")
        out.append(f"{name} ({severity})" if severity in _SEVERITIES else str(name))
    return out


def content_filtered(error: Mapping[str, Any], *, billed: bool) -> errors.ContentPolicyError:
    categories = _categories(error)
    named = f": {', '.join(categories)}" if categories else ""
    refused = errors.ContentPolicyError(f"Azure's content filter refused the request{named}.")
    refused.billed = billed
    return refused


def map_error(status: int, body: bytes, headers: Mapping[str, str]) -> errors.GatewayError:
    try:
        error = _error_object(orjson.loads(body))
    except orjson.JSONDecodeError:
        error = None
    if error is not None and is_content_filter(error):
        return content_filtered(error, billed=status == 400)
    if error is not None and error.get("code") == "DeploymentNotFound":
        return errors.UpstreamError(
            "Azure has no deployment of this name at the configured api_base (DeploymentNotFound)."
        )
    if error is not None and status == 404 and error.get("code") == "404":
        return errors.UpstreamError(
            "Azure found no API at the configured URL (404 Resource not found): check the "
            "deployment's api_base and api_version."
        )
    return openai.map_error(status, body, headers)


def error_event(data: dict[str, Any]) -> errors.GatewayError:
    """An `error` event inside a 200 stream."""
    error = _error_object(data)
    if error is not None and is_content_filter(error):
        return content_filtered(error, billed=False)  # the stream's attempt is billed anyway
    return openai.map_error(200, orjson.dumps(data), {})
