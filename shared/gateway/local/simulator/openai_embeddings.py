"""OpenAI's embeddings API (``POST /v1/embeddings``), simulated.

Reference: https://platform.openai.com/docs/api-reference/embeddings and the
CreateEmbeddingRequest / CreateEmbeddingResponse schemas of OpenAI's OpenAPI document.

``input`` is a string, a list of strings, a token array or a list of token arrays (at
most 2,048 inputs, none empty). Each input's vector is deterministic: unit length, drawn
from a hash of the model, the dimension count and the input, so equal inputs embed
equally and a test can recompute any vector (``vector_for``). ``dimensions`` is taken
by ``text-embedding-3`` and later models only, as OpenAI's schema says; an older model
given it answers 400. ``encoding_format: base64`` sends each vector as the base64 of its
little-endian float32 array, the form the openai SDK decodes. Usage counts each string
input as the chat simulator counts a prompt, and a token array as its length.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.local.simulator.openai_api import OpenAIVendor
from gateway.local.simulator.scenario import Parsed, PromptScan, RequestError, count_tokens

if TYPE_CHECKING:
    from starlette.requests import Request

    from gateway.local.simulator.scenario import Plan

MAX_INPUTS = 2048
DIMENSIONS = {"text-embedding-3-large": 3072}  # others: 1536 (3-small, ada-002)
DEFAULT_DIMENSIONS = 1536
_SHORTENED_MODELS = ("text-embedding-3",)  # prefixes of models that take `dimensions`
_INPUT_TYPE = "'input' must be a string, an array of strings, or an array of token arrays."

Input = str | list[int]


@dataclass
class EmbeddingsRequest(Parsed):
    """An embeddings body: its inputs, in order, and how the vectors are wanted."""

    inputs: list[Input] = field(default_factory=list)
    dimensions: int = DEFAULT_DIMENSIONS
    base64: bool = False


def vector_for(model: str, text: Input, dimensions: int) -> list[float]:
    """The unit vector this simulator answers for one input (as float32 values)."""
    seed = f"{model}\x00{dimensions}\x00{text!r}".encode()
    values: list[float] = []
    block = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(seed + block.to_bytes(4, "big")).digest()
        values.extend((byte - 127.5) / 127.5 for byte in digest)
        block += 1
    del values[dimensions:]
    norm = math.sqrt(sum(v * v for v in values))
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


def encoded(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def _is_tokens(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value)
    )


def _inputs(raw: object) -> list[Input]:
    if isinstance(raw, str) or _is_tokens(raw):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise RequestError(_INPUT_TYPE, "input")
    if len(raw) > MAX_INPUTS:
        raise RequestError(f"'input' must have at most {MAX_INPUTS} items.", "input")
    out: list[Input] = []
    for i, value in enumerate(raw):
        if isinstance(value, str) and value:
            out.append(value)
        elif _is_tokens(value):
            out.append(list(value))
        else:
            raise RequestError(f"'input[{i}]' must be a non-empty string or token array.", "input")
    return out


def _dimensions(model: str, body: dict[str, Any]) -> int:
    asked = body.get("dimensions")
    if asked is None:
        return DIMENSIONS.get(model, DEFAULT_DIMENSIONS)
    if not model.startswith(_SHORTENED_MODELS):
        raise RequestError("This model does not support specifying dimensions.", "dimensions")
    full = DIMENSIONS.get(model, DEFAULT_DIMENSIONS)
    if not isinstance(asked, int) or isinstance(asked, bool) or not 1 <= asked <= full:
        raise RequestError(f"'dimensions' must be an integer from 1 to {full}.", "dimensions")
    return asked


def parse_body(body: dict[str, Any]) -> EmbeddingsRequest:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("you must provide a model parameter", "model")
    if "input" not in body:
        raise RequestError("Missing required parameter: 'input'.", "input")
    inputs = _inputs(body["input"])
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise RequestError("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
    scan = PromptScan()
    for value in inputs:
        scan.add(value if isinstance(value, str) else "")
    texts = [value for value in inputs if isinstance(value, str)]
    return EmbeddingsRequest(
        model=model,
        stream=False,
        user_text="\n".join(texts),
        scan=scan,
        inputs=inputs,
        dimensions=_dimensions(model, body),
        base64=encoding == "base64",
    )


def prompt_tokens(request: EmbeddingsRequest) -> int:
    return sum(count_tokens(v) if isinstance(v, str) else len(v) for v in request.inputs)


class OpenAIEmbeddingsVendor(OpenAIVendor):
    """OpenAI's auth, headers and errors (``OpenAIVendor``), embedding bodies (never streamed:
    ``stream`` is always false, so only ``success`` answers)."""

    touches_cache = False

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        del request
        return parse_body(body)

    def success(self, plan: Plan) -> dict[str, Any]:
        request = plan.parsed
        if not isinstance(request, EmbeddingsRequest):
            raise TypeError("an embeddings plan is parsed by parse_body")
        data = []
        for index, value in enumerate(request.inputs):
            vector = vector_for(request.model, value, request.dimensions)
            embedding: list[float] | str = encoded(vector) if request.base64 else vector
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = prompt_tokens(request)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return {"object": "list", "data": data, "model": request.model, "usage": usage}
