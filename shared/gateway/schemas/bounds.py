"""How long a caller's own strings may be: checked at the door, kept in every spend event.

A request names a model, an end user (`user`, or Anthropic's `metadata.user_id`) and
spend-log tags (`metadata.tags`, LiteLLM's request tags), and may carry LiteLLM's request
`metadata`. The first three are copied into the request's spend event, and from there
into the spend queue's message, the ledger item and the keys of the spend counters.
Unbounded, one long string makes an event that SQS (256 KiB a message) or DynamoDB
(400 KB an item, 2048 bytes a partition key, 1024 a sort key) refuses: a request served
and never charged. So every inference route checks them here before anything is
admitted (a 400 that changes nothing), and gateway/spend/events.py clips an event's text
to the UTF-8 size of the same limits, should a bug let a longer one through.

The limits, in characters as the APIs count them:

- `model`: 256. Model names and aliases are short (Bedrock's inference-profile ARNs, the
  longest, are ~100).
- `user` and `metadata.user_id`: 256. OpenAI documents no maximum for `user`; its
  successor `safety_identifier` takes 128 characters. 256 is what the gateway's own ids
  (key alias, team, user) take (gateway/http/admin/bodies.py).
- `metadata`: OpenAI's metadata limits: at most 16 pairs, keys of at most 64 characters,
  string values of at most 512 characters; a value that is not a string (LiteLLM accepts
  any JSON there) takes at most 512 bytes as JSON.
- `metadata.tags`: at most 32 non-empty strings of at most 128 characters. Each tag is a
  counter row and a day-report row of the event's one transaction (100 actions at most),
  so 32 tags leave room for the key, team, user, model and budget rows.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import InvalidRequestError

MAX_MODEL_CHARS = 256
MAX_USER_CHARS = 256
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512
MAX_TAGS = 32
MAX_TAG_CHARS = 128

# A character is at most 4 bytes of UTF-8: what the limits above are worth in an event.
MAX_TEXT_BYTES = 4 * max(MAX_MODEL_CHARS, MAX_USER_CHARS)
MAX_TAG_BYTES = 4 * MAX_TAG_CHARS


def check(data: dict[str, Any]) -> None:
    """400 for a caller string over its limit (types are the route's validation's)."""
    _text(data.get("model"), "model", MAX_MODEL_CHARS)
    _text(data.get("user"), "user", MAX_USER_CHARS)
    metadata = data.get("metadata")
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise InvalidRequestError("metadata must be an object.", param="metadata")
    if len(metadata) > MAX_METADATA_PAIRS:
        raise InvalidRequestError(
            f"Invalid 'metadata': too many properties. Expected at most {MAX_METADATA_PAIRS}, "
            f"but got {len(metadata)} instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY_CHARS:
            raise InvalidRequestError(
                f"Invalid 'metadata': a key is longer than {MAX_METADATA_KEY_CHARS} characters.",
                param="metadata",
                code="string_above_max_length",
            )
        param = f"metadata.{key}"
        if key == "tags" and isinstance(value, list):
            continue  # tags_of's
        if key == "user_id":
            _text(value, param, MAX_USER_CHARS)
        if isinstance(value, str):
            _text(value, param, MAX_METADATA_VALUE_CHARS)
        elif len(orjson.dumps(value)) > MAX_METADATA_VALUE_CHARS:
            raise InvalidRequestError(
                f"Invalid '{param}': over {MAX_METADATA_VALUE_CHARS} bytes as JSON.",
                param=param,
                code="string_above_max_length",
            )


def tags_of(data: dict[str, Any]) -> tuple[str, ...]:
    """The request's spend-log tags (`metadata.tags`), once each, or a 400."""
    metadata = data.get("metadata")
    if metadata is None:
        return ()
    if not isinstance(metadata, dict):
        raise InvalidRequestError("metadata must be an object.", param="metadata")
    tags = metadata.get("tags")
    if tags is None:
        return ()
    if (
        not isinstance(tags, list)
        or len(tags) > MAX_TAGS
        or not all(isinstance(t, str) and 0 < len(t) <= MAX_TAG_CHARS for t in tags)
    ):
        raise InvalidRequestError(
            f"metadata.tags must be a list of at most {MAX_TAGS} non-empty strings of at most "
            f"{MAX_TAG_CHARS} characters.",
            param="metadata.tags",
        )
    return tuple(dict.fromkeys(tags))


def clip(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8, on a character boundary (a lone
    surrogate, which no JSON encoder takes, becomes '?')."""
    if text.isascii():
        return text[:max_bytes]
    return text.encode("utf-8", "replace")[:max_bytes].decode("utf-8", "ignore")


def _text(value: object, param: str, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        raise InvalidRequestError(
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{limit}, but got a string with length {len(value)} instead.",
            param=param,
            code="string_above_max_length",
        )
