"""Embeddings wire: Amazon Bedrock InvokeModel (`POST {endpoint}/model/{modelId}/invoke`).

Each family has its own body; the mapping follows these references:

- Amazon Titan Text Embeddings V2 (`amazon.titan-embed-text-v2:0`) and G1 - Text
  (`amazon.titan-embed-text-v1`),
  https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html:
  one text a call. V2 takes `{"inputText", "dimensions"?, "normalize"}` (dimensions 1024
  (default), 512 or 256; `normalize` is sent true, OpenAI's vectors being unit length,
  unless the client sends its own) and answers `{"embedding", "inputTextTokenCount",
  "embeddingsByType"}`. G1 takes `{"inputText"}` alone, so `dimensions` is refused.
- Cohere Embed v3 (`cohere.embed-english-v3`, `cohere.embed-multilingual-v3`) and v4
  (`cohere.embed-v4:0`),
  https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html and
  https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v4.html: at
  most 96 texts a call (more are split, order kept), `{"texts", "input_type",
  "embedding_types": ["float"], "truncate"?}`, plus v4's `output_dimension` (256, 512,
  1024, 1536); v3 has no dimension control. `input_type` is required: the client's, else
  "search_document" (LiteLLM's COHERE_DEFAULT_EMBEDDING_INPUT_TYPE). The answer is
  `embeddings_floats` (`"embeddings": [[...]]`) or `embeddings_by_type`
  (`"embeddings": {"float": [[...]]}`): the v4 page documents both, so both are read.
- Amazon Nova Multimodal Embeddings (`amazon.nova-2-multimodal-embeddings-v1:0`), text only,
  https://docs.aws.amazon.com/nova/latest/userguide/embeddings-schema.html: one text a
  call, `{"schemaVersion": "nova-multimodal-embed-v1", "taskType": "SINGLE_EMBEDDING",
  "singleEmbeddingParams": {"embeddingPurpose", "embeddingDimension"?, "text":
  {"truncationMode", "value"}}}`; purpose GENERIC_INDEX and truncation END (LiteLLM's
  choices) unless the client names `embeddingPurpose` / `truncationMode`; dimension 256,
  384, 1024 or 3072 (default 3072). Answer: `{"embeddings": [{"embeddingType",
  "embedding", "truncatedCharLength"?}]}`.

Titan counts its tokens in the body. Cohere and Nova bodies carry no count: theirs is the
`X-Amzn-Bedrock-Input-Token-Count` header Bedrock sets on InvokeModel answers (botocore's
service model does not declare it; Cohere's own SDK reads it, cohere-ai/cohere-python#537).
Without it, a call is charged an estimate of its texts (one token per four bytes, as the
OpenAI wire does), never nothing. No model here takes token arrays. A field the model has
no use for is refused with a 400 naming it, never dropped; `user` has no Bedrock field and
is dropped and named.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from gateway import errors, numerals
from gateway.embeddings import vectors
from gateway.embeddings.request import Embedded, estimate_tokens
from gateway.endpoints import bedrock_family
from gateway.providers import failures
from gateway.providers.bedrock.request import endpoint
from gateway.providers.spec import UpstreamRequest

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.embeddings.request import EmbeddingsRequest
    from gateway.providers.spec import Target
    from gateway.providers.transport import RawResponse

Family = Literal["titan-v1", "titan-v2", "cohere-v3", "cohere-v4", "nova"]

# Model id prefixes (after any cross-region prefix) and the family each one speaks.
FAMILIES: tuple[tuple[str, Family], ...] = (
    ("amazon.titan-embed-text-v2", "titan-v2"),
    ("amazon.titan-embed-text-v1", "titan-v1"),
    ("cohere.embed-english-v3", "cohere-v3"),
    ("cohere.embed-multilingual-v3", "cohere-v3"),
    ("cohere.embed-v4", "cohere-v4"),
    ("amazon.nova-2-multimodal-embeddings", "nova"),
)
DIMENSIONS: Mapping[Family, tuple[int, ...]] = MappingProxyType(
    {
        "titan-v2": (256, 512, 1024),
        "cohere-v4": (256, 512, 1024, 1536),
        "nova": (256, 384, 1024, 3072),
    }
)
COHERE_BATCH = 96  # texts per call, v3 and v4 alike
COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
NOVA_PURPOSES = (
    "GENERIC_INDEX",
    "GENERIC_RETRIEVAL",
    "TEXT_RETRIEVAL",
    "IMAGE_RETRIEVAL",
    "VIDEO_RETRIEVAL",
    "DOCUMENT_RETRIEVAL",
    "AUDIO_RETRIEVAL",
    "CLASSIFICATION",
    "CLUSTERING",
)
# Body fields beyond the OpenAI ones each family takes from the client, with their values.
EXTRAS: Mapping[Family, Mapping[str, tuple[object, ...]]] = MappingProxyType(
    {
        "titan-v1": {},
        "titan-v2": {"normalize": (True, False)},
        "cohere-v3": {"input_type": COHERE_INPUT_TYPES, "truncate": ("NONE", "START", "END")},
        "cohere-v4": {"input_type": COHERE_INPUT_TYPES, "truncate": ("NONE", "LEFT", "RIGHT")},
        "nova": {"embeddingPurpose": NOVA_PURPOSES, "truncationMode": ("START", "END", "NONE")},
    }
)
COUNT_HEADER = "x-amzn-bedrock-input-token-count"


def family(model: str) -> Family:
    """The family of a Bedrock model id (an ARN's last segment, any region prefix off)."""
    name = bedrock_family(model.rsplit("/", 1)[-1])
    for prefix, found in FAMILIES:
        if name.startswith(prefix):
            return found
    raise errors.InvalidRequestError(
        f"The Bedrock model '{model}' has no embeddings mapping in this gateway.", param="model"
    )


def _extras(request: EmbeddingsRequest, kind: Family) -> dict[str, Any]:
    allowed = EXTRAS[kind]
    taken: dict[str, Any] = {}
    for name, value in sorted(request.extra.items()):
        if value is None:
            continue
        choices = allowed.get(name)
        if choices is None:
            raise errors.UnsupportedParameterError(
                f"'{name}' is not supported by this model's provider.", param=name
            )
        if not any(type(value) is type(choice) and value == choice for choice in choices):
            listed = ", ".join(str(choice) for choice in choices)
            raise errors.InvalidRequestError(f"'{name}' must be one of: {listed}.", param=name)
        taken[name] = value
    return taken


def _dimensions(request: EmbeddingsRequest, kind: Family) -> int | None:
    if request.dimensions is None:
        return None
    allowed = DIMENSIONS.get(kind)
    if allowed is None:
        raise errors.InvalidRequestError(
            f"Model '{request.model}' does not support 'dimensions'.", param="dimensions"
        )
    if request.dimensions not in allowed:
        listed = ", ".join(map(str, allowed))
        raise errors.InvalidRequestError(
            f"'dimensions' must be one of {listed} for model '{request.model}'.",
            param="dimensions",
        )
    return request.dimensions


def _texts(request: EmbeddingsRequest) -> list[str]:
    if len(request.texts) != len(request.inputs):
        raise errors.InvalidRequestError(
            f"Model '{request.model}' takes text input only, not token arrays.", param="input"
        )
    return request.texts


def _titan(texts: list[str], dims: int | None, extra: dict[str, Any], kind: Family) -> list[Any]:
    if kind == "titan-v1":
        return [{"inputText": text} for text in texts]
    options: dict[str, Any] = {"normalize": extra.get("normalize", True)}
    if dims is not None:
        options["dimensions"] = dims
    return [{"inputText": text, **options} for text in texts]


def _cohere(texts: list[str], dims: int | None, extra: dict[str, Any], kind: Family) -> list[Any]:
    options: dict[str, Any] = {
        "input_type": extra.get("input_type", "search_document"),
        "embedding_types": ["float"],
    }
    if "truncate" in extra:
        options["truncate"] = extra["truncate"]
    if dims is not None and kind == "cohere-v4":
        options["output_dimension"] = dims
    return [
        {"texts": texts[start : start + COHERE_BATCH], **options}
        for start in range(0, len(texts), COHERE_BATCH)
    ]


def _nova(texts: list[str], dims: int | None, extra: dict[str, Any], kind: Family) -> list[Any]:
    del kind
    params: dict[str, Any] = {"embeddingPurpose": extra.get("embeddingPurpose", "GENERIC_INDEX")}
    if dims is not None:
        params["embeddingDimension"] = dims
    truncation = extra.get("truncationMode", "END")
    return [
        {
            "schemaVersion": "nova-multimodal-embed-v1",
            "taskType": "SINGLE_EMBEDDING",
            "singleEmbeddingParams": {
                **params,
                "text": {"truncationMode": truncation, "value": text},
            },
        }
        for text in texts
    ]


BODIES = MappingProxyType(
    {
        "titan-v1": _titan,
        "titan-v2": _titan,
        "cohere-v3": _cohere,
        "cohere-v4": _cohere,
        "nova": _nova,
    }
)


def calls(request: EmbeddingsRequest, target: Target) -> list[UpstreamRequest]:
    kind = family(target.model)
    texts = _texts(request)
    dims = _dimensions(request, kind)
    bodies = BODIES[kind](texts, dims, _extras(request, kind), kind)
    headers = {"content-type": "application/json", "accept": "application/json"}
    region = None
    if target.api_key:  # a Bedrock API key replaces SigV4
        headers["authorization"] = f"Bearer {target.api_key}"
    else:
        region = target.region
    url = f"{endpoint(target)}/model/{quote(target.model, safe='')}/invoke"
    dropped = ("user",) if request.user is not None else ()
    return [
        UpstreamRequest(
            url=url, body=body, headers=dict(headers), sigv4_region=region, dropped_params=dropped
        )
        for body in bodies
    ]


def _malformed() -> errors.UpstreamError:
    return errors.UpstreamError("The provider's embeddings answer was malformed.")


def _vector(value: object) -> list[float]:
    """A vector as JSON gave it; its numbers are checked as it is encoded (`_encoded`)."""
    if not isinstance(value, list) or not value:
        raise _malformed()
    return value


def _vectors(value: object) -> list[list[float]]:
    if not isinstance(value, list):
        raise _malformed()
    return [_vector(item) for item in value]


def _read(data: dict[str, Any]) -> tuple[list[list[float]], int | None]:
    """The vectors of one answer, and the tokens its body counts (Titan only)."""
    if "embedding" in data:  # Titan
        count = data.get("inputTextTokenCount")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise _malformed()
        return [_vector(data["embedding"])], count
    embeddings = data.get("embeddings")
    if isinstance(embeddings, dict):  # Cohere embeddings_by_type
        return _vectors(embeddings.get("float")), None
    if isinstance(embeddings, list) and embeddings and isinstance(embeddings[0], dict):  # Nova
        return [
            _vector(item.get("embedding") if isinstance(item, dict) else None)
            for item in embeddings
        ], None
    return _vectors(embeddings), None  # Cohere embeddings_floats


def _header_tokens(answer: RawResponse) -> int | None:
    return numerals.whole(answer.headers.get(COUNT_HEADER))


def parse(request: EmbeddingsRequest, answers: Sequence[RawResponse]) -> Embedded:
    texts = request.texts
    found: list[list[float]] = []
    tokens = 0
    for answer in answers:
        got, counted = _read(failures.json_object(answer.body))
        covered = texts[len(found) : len(found) + len(got)]
        found.extend(got)
        if counted is None:
            counted = _header_tokens(answer)
        tokens += estimate_tokens(covered) if counted is None else counted
    if len(found) != len(request.inputs):
        raise errors.UpstreamError("The provider answered a different number of embeddings.")
    return Embedded([_encoded(v, request) for v in found], tokens)


def _encoded(vector: list[float], request: EmbeddingsRequest) -> list[float] | str:
    try:
        return vectors.encode(vector, request.encoding_format)
    except TypeError:
        raise _malformed() from None
