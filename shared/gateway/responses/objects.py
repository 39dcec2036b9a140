"""The Responses API's objects: the Response envelope, its usage and its output items.

Reference: https://platform.openai.com/docs/api-reference/responses/object, i.e. the
components `Response`, `ResponseUsage` and `OutputItem` of OpenAI's OpenAPI document
(version 2.3.0); tests validate every object built here against that schema.

Decisions a reader could not guess:
- The envelope echoes the request's settings, filling OpenAI's defaults where the client
  sent none (or null), as OpenAI's own responses do: tool_choice "auto", temperature and
  top_p 1.0, text {"format": {"type": "text"}}, parallel_tool_calls true, store true,
  metadata {}, truncation "disabled", service_tier "auto", top_logprobs 0, reasoning
  {"effort": null, "summary": null}.
- `usage` is left out until it is known, not null: the schema's ResponseUsage is not
  nullable (OpenAI's examples send null; both SDKs read either as None). `user` is left
  out unless the client sent one, for the same reason.
- `store` is echoed although neither the schema nor the openai SDK's Response model
  lists it: OpenAI's wire responses carry it (every example in the spec does).
- A function tool is echoed with `strict` and `parameters` null where the client left
  them out: the schema's FunctionTool requires both, and null says "not set".
- `completed_at` is null until the response completes; the caller owns the clock.
- Not echoed: conversation, prompt_cache_options, moderation: the translated path
  offers none of them, and an echo would claim it did.
- `error.code` is one of the schema's ResponseErrorCode (a closed enum): the gateway's
  codes for a prompt the provider refused read "invalid_prompt", others "server_error".
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.providers.spec import TokenUsage

Item = dict[str, Any]
Part = dict[str, Any]

# Request fields echoed into the Response, with the value OpenAI reports when unset.
ECHOED: Mapping[str, Any] = {
    "background": False,
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "prompt": None,
    "prompt_cache_key": None,
    "prompt_cache_retention": None,
    "reasoning": {"effort": None, "summary": None},
    "safety_identifier": None,
    "service_tier": "auto",
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "top_logprobs": 0,
    "top_p": 1.0,
    "truncation": "disabled",
    "metadata": {},
}


# The schema's ResponseErrorCode (a closed enum); tests compare it with the spec.
RESPONSE_ERROR_CODES = frozenset(
    {
        "server_error",
        "rate_limit_exceeded",
        "invalid_prompt",
        "data_residency_mismatch",
        "bio_policy",
        "vector_store_timeout",
        "invalid_image",
        "invalid_image_format",
        "invalid_base64_image",
        "invalid_image_url",
        "image_too_large",
        "image_too_small",
        "image_parse_error",
        "image_content_policy_violation",
        "invalid_image_mode",
        "image_file_too_large",
        "unsupported_image_media_type",
        "empty_image_file",
        "failed_to_download_image",
        "image_file_not_found",
    }
)
ERROR_CODES: Mapping[str, str] = {
    "context_length_exceeded": "invalid_prompt",
    "content_policy_violation": "invalid_prompt",
}


def response_skeleton(
    body: Mapping[str, Any],
    *,
    response_id: str,
    model: str,
    created_at: int,
    status: str,
) -> dict[str, Any]:
    """A Response with no output yet, echoing the request `body` (the client's JSON)."""
    response: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [],
    }
    for name, default in ECHOED.items():
        value = body.get(name)
        response[name] = copy.deepcopy(default if value is None else value)
    if "format" not in response["text"]:  # e.g. only {"verbosity": "low"}
        response["text"] = {"format": {"type": "text"}, **response["text"]}
    response["tools"] = [_tool(tool) for tool in copy.deepcopy(body.get("tools") or [])]
    if isinstance(body.get("user"), str):
        response["user"] = body["user"]
    return response


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") != "function":
        return tool
    return {"strict": None, "parameters": None, **tool}


def usage_object(usage: TokenUsage) -> dict[str, Any]:
    """TokenUsage as a ResponseUsage; `input_tokens` counts cached tokens, as OpenAI's does."""
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def error_code(code: str) -> str:
    if code in RESPONSE_ERROR_CODES:
        return code
    return ERROR_CODES.get(code, "server_error")


def error_object(code: str, message: str) -> dict[str, Any]:
    """A Response's `error`: its code is one of ResponseErrorCode's, never a raw one."""
    return {"code": error_code(code), "message": message}


# ---- output items and their content parts ------------------------------------------------


def reasoning_text(text: str) -> Part:
    return {"type": "reasoning_text", "text": text}


def output_text(text: str) -> Part:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal(text: str) -> Part:
    return {"type": "refusal", "refusal": text}


def reasoning_item(item_id: str, content: list[Part], status: str) -> Item:
    """Raw reasoning goes in `content` (reasoning_text); no summary is invented."""
    return {"id": item_id, "type": "reasoning", "summary": [], "content": content, "status": status}


def message_item(item_id: str, content: list[Part], status: str) -> Item:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def function_call_item(
    item_id: str, *, call_id: str, name: str, arguments: str, status: str
) -> Item:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }
