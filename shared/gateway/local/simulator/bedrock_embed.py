"""AWS Bedrock Runtime InvokeModel for embedding models: ``POST /model/{modelId}/invoke``.

Families and bodies, from the Bedrock user guide:
- Titan Embeddings G1 - Text (``amazon.titan-embed-text-v1``: ``{"inputText"}``, 1536
  dimensions) and Titan Text Embeddings V2 (``amazon.titan-embed-text-v2:0``: also
  ``dimensions`` 1024/512/256, ``normalize``, ``embeddingTypes``),
  https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html;
  answer ``{"embedding", "inputTextTokenCount"}``, V2 adding ``embeddingsByType``.
- Cohere Embed v3 (``cohere.embed-english-v3``, ``cohere.embed-multilingual-v3``: 1024
  dimensions) and v4 (``cohere.embed-v4:0``: ``output_dimension`` 256/512/1024/1536,
  default 1536), model-parameters-embed-v3.html and -v4.html: ``input_type`` required, at
  most 96 ``texts``. Without ``embedding_types`` the answer is ``embeddings_floats``
  (``"embeddings": [[...]]``); with them, ``embeddings_by_type`` (``{"float": [[...]],
  ...}``), as AWS's code samples read it.
- Nova Multimodal Embeddings (``amazon.nova-2-multimodal-embeddings-v1:0``), text only,
  https://docs.aws.amazon.com/nova/latest/userguide/embeddings-schema.html: a
  SINGLE_EMBEDDING request; answer ``{"embeddings": [{"embeddingType": "TEXT",
  "embedding"}]}`` (dimension 3072 unless ``embeddingDimension`` says otherwise).

Bedrock checks a body against the model's JSON schema: a bad one is a 400
ValidationException "Malformed input request: #/path: problem, please reformat your
input and try again."; an unknown model id is "The provided model identifier is
invalid.". Images, audio, video and S3 sources are not simulated (400).
Vectors are ``openai_embeddings.vector_for(family, text, dimensions)`` (unit length,
``normalize: false`` notwithstanding), so a test can recompute them; int8/uint8 scale
them by 127, binary/ubinary pack their signs. Tokens count as the chat simulator counts
a prompt; every answer carries ``X-Amzn-Bedrock-Input-Token-Count`` (Titan also in its
body) and ``X-Amzn-Bedrock-Invocation-Latency``. Auth, errors and faults are Converse's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.endpoints import bedrock_family
from gateway.local.simulator.bedrock_api import LATENCY_MS, BedrockVendor
from gateway.local.simulator.openai_embeddings import vector_for
from gateway.local.simulator.scenario import Parsed, PromptScan, RequestError

if TYPE_CHECKING:
    from starlette.requests import Request

    from gateway.local.simulator.scenario import Plan

MALFORMED = "Malformed input request: {}: {}, please reformat your input and try again."
INVALID_MODEL = "The provided model identifier is invalid."
FAMILIES = {
    "amazon.titan-embed-text-v1": "titan-v1",
    "amazon.titan-embed-text-v2": "titan-v2",
    "cohere.embed-english-v3": "cohere-v3",
    "cohere.embed-multilingual-v3": "cohere-v3",
    "cohere.embed-v4": "cohere-v4",
    "amazon.nova-2-multimodal-embeddings": "nova",
}
EMBEDDING_PREFIXES = ("amazon.titan-embed-text", "cohere.embed", "amazon.nova-2-multimodal-embed")
COHERE_TYPES = ("search_document", "search_query", "classification", "clustering")
COHERE_KINDS = ("float", "int8", "uint8", "binary", "ubinary")
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
_NOT_SIMULATED = "The simulator embeds text only: {} is not simulated."
_JSON_TYPES = ((bool, "Boolean"), (int, "Integer"), (float, "Number"), (str, "String"))


@dataclass
class EmbedRequest(Parsed):
    """An embedding body: its family, texts, vector size and (Cohere) types asked for."""

    family: str = ""
    texts: list[str] = field(default_factory=list)
    dimensions: int = 0
    kinds: list[str] = field(default_factory=list)  # Titan embeddingTypes / Cohere's


def _name(model_id: str) -> str:
    return bedrock_family(model_id.rsplit("/", 1)[-1])


def is_embedding_model(model_id: str) -> bool:
    """Whether InvokeModel for this model id is an embeddings call (as endpoints.py says)."""
    return _name(model_id).startswith(EMBEDDING_PREFIXES)


def family_of(model_id: str) -> str | None:
    name = _name(model_id)
    return next((kind for prefix, kind in FAMILIES.items() if name.startswith(prefix)), None)


def _type_name(value: object) -> str:
    if value is None:
        return "Null"
    if isinstance(value, list):
        return "JSONArray"
    if isinstance(value, dict):
        return "JSONObject"
    return next(name for kind, name in _JSON_TYPES if isinstance(value, kind))


def _fail(where: str, problem: str) -> RequestError:
    return RequestError(MALFORMED.format(where, problem))


def _keys(body: dict[str, Any], where: str, required: tuple[str, ...], allowed: set[str]) -> None:
    for key in required:
        if key not in body:
            raise _fail(where, f"required key [{key}] not found")
    for key in body:
        if key not in allowed:
            raise _fail(where, f"extraneous key [{key}] is not permitted")


def _typed(value: object, where: str, kind: type, name: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _fail(where, f"expected type: {name}, found: {_type_name(value)}")
    return value


def _enum(body: dict[str, Any], key: str, where: str, choices: tuple[Any, ...]) -> Any:
    value = body[key]
    if not any(type(value) is type(choice) and value == choice for choice in choices):
        raise _fail(f"{where}/{key}", f"{value} is not a valid enum value")
    return value


def _kinds(value: object, where: str, choices: tuple[str, ...]) -> list[str]:
    kinds = _typed(value, where, list, "JSONArray")
    for index, kind in enumerate(kinds):
        if kind not in choices:
            raise _fail(f"{where}/{index}", f"{kind} is not a valid enum value")
    return list(dict.fromkeys(kinds))


def _titan(body: dict[str, Any], family: str) -> tuple[list[str], int, list[str]]:
    extra = {"dimensions", "normalize", "embeddingTypes"} if family == "titan-v2" else set()
    _keys(body, "#", ("inputText",), {"inputText", *extra})
    text = _typed(body["inputText"], "#/inputText", str, "String")
    if family == "titan-v1":
        return [text], 1536, []
    dimensions = _enum(body, "dimensions", "#", (1024, 512, 256)) if "dimensions" in body else 1024
    if "normalize" in body:
        _typed(body["normalize"], "#/normalize", bool, "Boolean")
    kinds = _kinds(body.get("embeddingTypes", ["float"]), "#/embeddingTypes", ("float", "binary"))
    return [text], dimensions, kinds


def _cohere(body: dict[str, Any], family: str) -> tuple[list[str], int, list[str]]:
    v4 = family == "cohere-v4"
    allowed = {"texts", "images", "input_type", "truncate", "embedding_types"}
    allowed |= {"inputs", "output_dimension", "max_tokens"} if v4 else set()
    _keys(body, "#", ("input_type",), allowed)
    for key in ("images", "inputs"):
        if key in body:
            raise RequestError(_NOT_SIMULATED.format(f"'{key}'"))
    _keys(body, "#", ("texts",), allowed)
    texts = _typed(body["texts"], "#/texts", list, "JSONArray")
    if len(texts) > 96:
        raise _fail("#/texts", f"expected maxItems: 96, actual: {len(texts)}")
    for index, text in enumerate(texts):
        _typed(text, f"#/texts/{index}", str, "String")
    _enum(body, "input_type", "#", COHERE_TYPES if v4 else (*COHERE_TYPES, "image"))
    if "truncate" in body:
        _enum(body, "truncate", "#", ("NONE", "LEFT", "RIGHT") if v4 else ("NONE", "START", "END"))
    if "max_tokens" in body:
        _typed(body["max_tokens"], "#/max_tokens", int, "Integer")
    dimensions = 1536 if v4 else 1024
    if "output_dimension" in body:
        dimensions = _enum(body, "output_dimension", "#", (256, 512, 1024, 1536))
    kinds = body.get("embedding_types")
    return (
        texts,
        dimensions,
        [] if kinds is None else _kinds(kinds, "#/embedding_types", COHERE_KINDS),
    )


def _nova(body: dict[str, Any]) -> tuple[list[str], int, list[str]]:
    allowed = {"schemaVersion", "taskType", "singleEmbeddingParams"}
    _keys(body, "#", ("taskType", "singleEmbeddingParams"), allowed)
    if "schemaVersion" in body:
        _enum(body, "schemaVersion", "#", ("nova-multimodal-embed-v1",))
    _enum(body, "taskType", "#", ("SINGLE_EMBEDDING",))
    where = "#/singleEmbeddingParams"
    params = _typed(body["singleEmbeddingParams"], where, dict, "JSONObject")
    modalities = {"text", "image", "audio", "video"}
    _keys(
        params,
        where,
        ("embeddingPurpose",),
        {"embeddingPurpose", "embeddingDimension", *modalities},
    )
    _enum(params, "embeddingPurpose", where, NOVA_PURPOSES)
    dimensions = 3072
    if "embeddingDimension" in params:
        dimensions = _enum(params, "embeddingDimension", where, (256, 384, 1024, 3072))
    given = sorted(modalities & params.keys())
    if len(given) != 1:
        raise _fail(where, "exactly one of text, image, video, audio must be present")
    if given != ["text"]:
        raise RequestError(_NOT_SIMULATED.format(given[0]))
    text = _typed(params["text"], f"{where}/text", dict, "JSONObject")
    _keys(text, f"{where}/text", ("truncationMode",), {"truncationMode", "value", "source"})
    _enum(text, "truncationMode", f"{where}/text", ("START", "END", "NONE"))
    if "value" not in text:
        raise RequestError(_NOT_SIMULATED.format("an S3 text source"))
    return [_typed(text["value"], f"{where}/text/value", str, "String")], dimensions, []


def parse_body(body: dict[str, Any], model_id: str) -> EmbedRequest:
    family = family_of(model_id)
    if family is None:
        raise RequestError(INVALID_MODEL)
    if family.startswith("titan"):
        texts, dimensions, kinds = _titan(body, family)
    elif family.startswith("cohere"):
        texts, dimensions, kinds = _cohere(body, family)
    else:
        texts, dimensions, kinds = _nova(body)
    scan = PromptScan()
    for text in texts:
        scan.add(text)
    return EmbedRequest(
        model=_name(model_id),
        stream=False,
        user_text="\n".join(texts),
        scan=scan,
        family=family,
        texts=texts,
        dimensions=dimensions,
        kinds=kinds,
    )


def _quantized(vector: list[float], kind: str) -> list[float] | list[int]:
    if kind == "float":
        return vector
    if kind in ("int8", "uint8"):
        offset = 128 if kind == "uint8" else 0
        return [max(-128, min(127, round(v * 127))) + offset for v in vector]
    bits = "".join("1" if v > 0 else "0" for v in vector)
    packed = [int(bits[i : i + 8].ljust(8, "0"), 2) for i in range(0, len(bits), 8)]
    return packed if kind == "ubinary" else [b - 128 for b in packed]


def answer(request: EmbedRequest, seq: int) -> dict[str, Any]:
    """The documented answer body for a parsed request."""
    vectors = [vector_for(request.model, text, request.dimensions) for text in request.texts]
    if request.family.startswith("titan"):
        body: dict[str, Any] = {
            "embedding": vectors[0],
            "inputTextTokenCount": request.scan.total_tokens(),
        }
        if request.family == "titan-v2":
            by_type = {"float": vectors[0]}
            if "binary" in request.kinds:
                by_type["binary"] = [1 if v > 0 else 0 for v in vectors[0]]
            body["embeddingsByType"] = by_type
        return body
    if request.family == "nova":
        return {"embeddings": [{"embeddingType": "TEXT", "embedding": vectors[0]}]}
    body = {"id": f"00000000-0000-4000-8000-{seq:012d}", "texts": request.texts}
    if request.kinds:
        kinds = {kind: [_quantized(v, kind) for v in vectors] for kind in request.kinds}
        return {**body, "embeddings": kinds, "response_type": "embeddings_by_type"}
    return {**body, "embeddings": vectors, "response_type": "embeddings_floats"}


class BedrockEmbedVendor(BedrockVendor):
    """InvokeModel for an embedding model: never streamed, no prompt cache."""

    content_policy_is_stop = False
    touches_cache = False

    def __init__(self) -> None:
        super().__init__(stream=False)

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        return parse_body(body, str(request.path_params["model_id"]))

    def success_headers(self, plan: Plan) -> dict[str, str]:
        return {
            "x-amzn-bedrock-invocation-latency": str(LATENCY_MS),
            "x-amzn-bedrock-input-token-count": str(plan.parsed.scan.total_tokens()),
        }

    def success(self, plan: Plan) -> dict[str, Any]:
        if not isinstance(plan.parsed, EmbedRequest):
            raise TypeError("an embeddings plan is parsed by parse_body")
        return answer(plan.parsed, plan.seq)
