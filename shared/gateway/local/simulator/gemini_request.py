"""Gemini ``generateContent`` request bodies: validated as Google validates them, read into
vendor-neutral terms.

One body shape serves both hosts, the Gemini API (AI Studio, ``v1beta`` / ``v1``,
https://ai.google.dev/api/generate-content) and Vertex AI (``v1`` / ``v1beta1``,
https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.publishers.models/generateContent).
Google parses the body as proto3 JSON, so every field is accepted in lowerCamelCase or in
its proto name (``system_instruction``), and a name it does not know is a 400 ("Invalid JSON
payload received. Unknown name ..."), reported at the proto path of the object holding it.

Gemini-only outcomes are chosen by markers in the last user text, removed here so the
shared fault selection never sees them: ``[sim-fault:safety]``, ``[sim-fault:blocked_prompt]``,
``[sim-fault:recitation]`` (``GEMINI_OUTCOMES``), and ``[sim-cache]``, which makes everything
before the last turn a cacheable prefix (reported as ``cachedContentTokenCount`` from the
second identical request on, as Gemini's implicit caching does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gateway.local.simulator.scenario import (
    Parsed,
    PromptScan,
    RequestError,
    as_dict,
    as_list,
    dumps,
)

GEMINI_OUTCOMES = frozenset({"safety", "blocked_prompt", "recitation"})
JSON_MIME = "application/json"
_OUTCOME_MARKER = re.compile(r"\[sim-fault:(safety|blocked_prompt|recitation)\]")
_CACHE_MARKER = re.compile(r"\[sim-cache\]")
_ROLES = ("user", "model")
_REQUEST_FIELDS = frozenset(
    {
        "contents",
        "tools",
        "toolConfig",
        "safetySettings",
        "systemInstruction",
        "generationConfig",
        "cachedContent",
    }
)
_AI_STUDIO_FIELDS = _REQUEST_FIELDS | {"model"}
_VERTEX_FIELDS = _REQUEST_FIELDS | {"labels"}
_CONTENT_FIELDS = frozenset({"role", "parts"})
_PART_FIELDS = frozenset(
    {
        "text",
        "inlineData",
        "fileData",
        "functionCall",
        "functionResponse",
        "executableCode",
        "codeExecutionResult",
        "thought",
        "thoughtSignature",
        "videoMetadata",
        "mediaResolution",
        "partMetadata",
    }
)
# The Gemini API's and Vertex AI's GenerationConfig fields, together.
_GENERATION_FIELDS = frozenset(
    {
        "stopSequences",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "responseModalities",
        "candidateCount",
        "maxOutputTokens",
        "temperature",
        "topP",
        "topK",
        "seed",
        "presencePenalty",
        "frequencyPenalty",
        "responseLogprobs",
        "logprobs",
        "enableEnhancedCivicAnswers",
        "speechConfig",
        "thinkingConfig",
        "imageConfig",
        "mediaResolution",
        "routingConfig",
        "audioTimestamp",
        "modelConfig",
    }
)
_NO_CONTENTS = "* GenerateContentRequest.contents: contents is not specified\n"
_BAD_ROLE = "Please use a valid role: user, model."
BAD_REQUEST = "BadRequest"  # RequestError.code: the error carries a google.rpc.BadRequest


@dataclass
class GeminiParsed(Parsed):
    """What a generateContent body asks for beyond the vendor-neutral ``Parsed``."""

    show_thoughts: bool = False  # thinkingConfig.includeThoughts
    json_mode: bool = False  # responseMimeType application/json
    outcome: str | None = None  # a GEMINI_OUTCOMES name from a marker
    max_output_tokens: int | None = None
    stop_sequences: tuple[str, ...] = ()
    candidate_count: int = 1


def camel(name: str) -> str:
    """``system_instruction`` -> ``systemInstruction`` (lowerCamel names pass unchanged)."""
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def snake(name: str) -> str:
    """``generationConfig`` -> ``generation_config``: the proto name Google's errors use."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def field(obj: dict[str, Any], name: str) -> Any:
    """A field by its lowerCamel name, also found under its proto (snake_case) name."""
    return obj[name] if name in obj else obj.get(snake(name))


def _unknown(obj: dict[str, Any], known: frozenset[str], where: str) -> None:
    for key in obj:
        if camel(key) not in known:
            at = f" at '{where}'" if where else ""
            message = f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.'
            raise RequestError(message, where, code=BAD_REQUEST)


def _part_text(part: dict[str, Any]) -> str:
    """What a part adds to the prompt's token count (media adds nothing here)."""
    text = part.get("text")
    if isinstance(text, str):
        return text
    for name in ("functionCall", "functionResponse"):
        value = field(part, name)
        if isinstance(value, dict):
            return dumps(value)
    return ""


def _content_text(content: dict[str, Any]) -> str:
    """Text of a turn: its text parts, and the responses of its functionResponse parts."""
    texts = []
    for part in content["parts"]:
        text = part.get("text")
        response = as_dict(field(part, "functionResponse"))
        if isinstance(text, str):
            texts.append(text)
        elif "response" in response:
            texts.append(dumps(response["response"]))
    return " ".join(texts)


def _validate_contents(contents: object) -> list[dict[str, Any]]:
    if not isinstance(contents, list) or not contents:
        raise RequestError(_NO_CONTENTS)
    for index, content in enumerate(contents):
        where = f"contents[{index}]"
        if not isinstance(content, dict):
            raise RequestError(f"Invalid value at '{where}'", where, code=BAD_REQUEST)
        _unknown(content, _CONTENT_FIELDS, where)
        if content.get("role", "user") not in _ROLES:
            raise RequestError(_BAD_ROLE)
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            message = f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty.\n"
            raise RequestError(message)
        for number, part in enumerate(parts):
            if not isinstance(part, dict):
                raise RequestError(f"Invalid value at '{where}.parts[{number}]'")
            _unknown(part, _PART_FIELDS, f"{where}.parts[{number}]")
    return contents


def _validate_system(system: object, content_type: str) -> None:
    if system is not None and not isinstance(system, dict):
        where = "system_instruction"
        message = f"Invalid value at '{where}' ({content_type}), {dumps(system)}"
        raise RequestError(message, where, code=BAD_REQUEST)
    if isinstance(system, dict):
        _unknown(system, _CONTENT_FIELDS, "system_instruction")


def _tool_names(tools: object) -> list[str]:
    names: list[str] = []
    for tool in as_list(tools):
        for declaration in as_list(field(as_dict(tool), "functionDeclarations")):
            if isinstance(declaration, dict) and isinstance(declaration.get("name"), str):
                names.append(declaration["name"])
    return names


def _function_calling(body: dict[str, Any], names: list[str]) -> tuple[list[str], str | None]:
    """(tools that may be called, the one forced: "" for any) from toolConfig."""
    config = as_dict(field(as_dict(field(body, "toolConfig")), "functionCallingConfig"))
    mode = str(config.get("mode", "AUTO")).upper()
    allowed = [n for n in as_list(field(config, "allowedFunctionNames")) if isinstance(n, str)]
    if mode == "NONE":
        return [], None
    if mode == "ANY":
        return names, allowed[0] if allowed else ""
    return names, None


def _thinks_by_default(model: str) -> bool:
    """Gemini 2.5 Pro and Flash (not Flash-Lite) and the Gemini 3 models think unless told."""
    if model.startswith("gemini-3"):
        return True
    return model.startswith(("gemini-2.5-pro", "gemini-2.5-flash")) and "lite" not in model


def _thinking(generation: dict[str, Any], model: str) -> tuple[bool, bool]:
    """(thinks, shows its thoughts): a budget of 0 turns thinking off, -1 is dynamic."""
    config = as_dict(field(generation, "thinkingConfig"))
    budget, level = field(config, "thinkingBudget"), field(config, "thinkingLevel")
    if isinstance(budget, int) and not isinstance(budget, bool):
        thinks = budget != 0
    else:
        thinks = level is not None or _thinks_by_default(model)
    return thinks, thinks and field(config, "includeThoughts") is True


def _scan(body: dict[str, Any], contents: list[dict[str, Any]], cached: bool) -> PromptScan:
    """Tools, the system instruction, then the turns; ``cached`` marks all but the last."""
    scan = PromptScan()
    for tool in as_list(field(body, "tools")):
        scan.add(dumps(tool))
    for part in as_list(field(as_dict(field(body, "systemInstruction")), "parts")):
        scan.add(_part_text(as_dict(part)))
    for index, content in enumerate(contents):
        if cached and index == len(contents) - 1:
            scan.mark()
        for part in content["parts"]:
            scan.add(_part_text(part))
    return scan


def _last_user_text(contents: list[dict[str, Any]]) -> str:
    for content in reversed(contents):
        if content.get("role", "user") == "user":
            return _content_text(content)
    return ""


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def parse_body(
    body: dict[str, Any], model: str, *, stream: bool, vertex: bool, content_type: str
) -> GeminiParsed:
    """A generateContent body in vendor-neutral terms; RequestError as Google's 400s."""
    _unknown(body, _VERTEX_FIELDS if vertex else _AI_STUDIO_FIELDS, "")
    contents = _validate_contents(body.get("contents"))
    _validate_system(field(body, "systemInstruction"), content_type)
    generation = as_dict(field(body, "generationConfig"))
    _unknown(generation, _GENERATION_FIELDS, "generation_config")
    text = _last_user_text(contents)
    outcome = _OUTCOME_MARKER.search(text)
    cached = _CACHE_MARKER.search(text) is not None
    text = _CACHE_MARKER.sub("", _OUTCOME_MARKER.sub("", text))
    tools, forced = _function_calling(body, _tool_names(field(body, "tools")))
    thinks, shows = _thinking(generation, model)
    last_parts = contents[-1]["parts"]
    stops = as_list(field(generation, "stopSequences"))
    return GeminiParsed(
        model=model,
        stream=stream,
        user_text=text,
        scan=_scan(body, contents, cached),
        tools=tools,
        forced_tool=forced,
        after_tool_result=any(field(p, "functionResponse") is not None for p in last_parts),
        thinking=thinks,
        show_thoughts=shows,
        json_mode=field(generation, "responseMimeType") == JSON_MIME,
        outcome=outcome.group(1) if outcome else None,
        max_output_tokens=_positive(field(generation, "maxOutputTokens")),
        stop_sequences=tuple(s for s in stops if isinstance(s, str) and s),
        candidate_count=_positive(field(generation, "candidateCount")) or 1,
    )
