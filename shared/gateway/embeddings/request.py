"""An embeddings request, validated, and the contract of a provider's embeddings wire.

Validation follows OpenAI's CreateEmbeddingRequest: `input` is a string, a list of
strings, a token array or a list of token arrays (at most MAX_INPUTS, none empty);
`encoding_format` float or base64; `dimensions` a positive integer; `user` a string.
Other fields (Cohere's `input_type`, say) are passed on where the wire knows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from gateway.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.providers.spec import Target, UpstreamRequest
    from gateway.providers.transport import RawResponse

MAX_INPUTS = 2048
Input = str | tuple[int, ...]
Encoding = Literal["float", "base64"]
KNOWN = frozenset({"model", "input", "encoding_format", "dimensions", "user", "metadata"})


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    model: str
    inputs: tuple[Input, ...]
    encoding_format: Encoding = "float"
    dimensions: int | None = None
    user: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # other fields, less metadata
    single: bool = False  # `input` was one string or one token array, not a list

    @property
    def texts(self) -> list[str]:
        """The string inputs (a wire that takes no token arrays refuses the others)."""
        return [value for value in self.inputs if isinstance(value, str)]


@dataclass(frozen=True, slots=True)
class Embedded:
    """A provider's answer: one embedding per input, in input order, already in the
    request's encoding (`vectors.encode`), and the input tokens it billed."""

    embeddings: list[list[float] | str]
    input_tokens: int


class EmbeddingsWire(Protocol):
    """How one provider's embeddings API is called. Pure: the call module does the I/O.
    Titan takes one text per call, so `calls` may return several requests; `parse`
    gets their answers in the same order, all 2xx."""

    def calls(self, request: EmbeddingsRequest, target: Target) -> list[UpstreamRequest]: ...

    def parse(self, request: EmbeddingsRequest, answers: Sequence[RawResponse]) -> Embedded: ...


def estimate_tokens(inputs: Sequence[Input]) -> int:
    """The input tokens of a provider that counts none: a token per four bytes of text,
    a token array by its length (charged rather than nothing)."""
    return sum(
        -(-len(value.encode()) // 4) if isinstance(value, str) else len(value) for value in inputs
    )


def _is_tokens(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value)
    )


def _inputs(raw: object) -> tuple[tuple[Input, ...], bool]:
    single = isinstance(raw, str) or _is_tokens(raw)
    values = [raw] if single else raw
    if not isinstance(values, list) or not values:
        raise InvalidRequestError(
            "'input' must be a string, an array of strings, or an array of token arrays.",
            param="input",
        )
    if len(values) > MAX_INPUTS:
        raise InvalidRequestError(f"'input' must have at most {MAX_INPUTS} items.", param="input")
    out: list[Input] = []
    for index, value in enumerate(values):
        if isinstance(value, str) and value:
            out.append(value)
        elif _is_tokens(value):
            out.append(tuple(value))
        else:
            raise InvalidRequestError(
                f"'input[{index}]' must be a non-empty string or token array.", param="input"
            )
    return tuple(out), single


def validate_embeddings(data: dict[str, Any]) -> EmbeddingsRequest:
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("'model' must be a non-empty string.", param="model")
    if "input" not in data:
        raise InvalidRequestError("Missing required parameter: 'input'.", param="input")
    inputs, single = _inputs(data["input"])
    encoding = data.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise InvalidRequestError(
            "'encoding_format' must be 'float' or 'base64'.", param="encoding_format"
        )
    dimensions = data.get("dimensions")
    if dimensions is not None and (
        not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1
    ):
        raise InvalidRequestError("'dimensions' must be a positive integer.", param="dimensions")
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise InvalidRequestError("'user' must be a string.", param="user")
    return EmbeddingsRequest(
        model=model,
        inputs=inputs,
        encoding_format=encoding,
        dimensions=dimensions,
        user=user,
        extra={key: value for key, value in data.items() if key not in KNOWN},
        single=single,
    )
