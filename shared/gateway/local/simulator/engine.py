"""The vendor-neutral request pipeline: record, authenticate, parse, pick a fault, answer.

Fault selection, first match wins: the URL's ``/_fault/{spec}`` prefix while its ``times``
last (see ``fault_spec``); header ``x-sim-fault``; a ``[sim-fault:NAME]`` marker in the last
user message; the server-level fault (``SimState.set_fault`` / ``POST /_sim/fault``).
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from gateway.local.simulator.connection import ResetResponse, StallResponse
from gateway.local.simulator.fault_spec import url_fault_spec
from gateway.local.simulator.scenario import (
    DEFAULT_CHUNKS,
    ERROR_FAULTS,
    HTML_PAGE,
    INVALID_JSON,
    MAX_CHUNKS,
    RETRY_AFTER_SECONDS,
    Plan,
    RequestError,
    chunks_marker,
    fault_marker,
)
from gateway.local.simulator.state import SimState, check_fault

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Sequence

    from starlette.requests import Request

    from gateway.local.simulator.fault_spec import FaultSpec
    from gateway.local.simulator.scenario import Parsed

JSON = "application/json"
Kind = Literal["meta", "delta", "tail"]


@dataclass(frozen=True)
class Ev:
    """One encoded stream event; ``delta`` events carry content, ``tail`` ones end the stream."""

    data: bytes
    kind: Kind = "meta"


@dataclass
class ErrorContext:
    """What an error body may mention."""

    model: str = "unknown"
    input_tokens: int = 1
    credential: str = ""
    request_id: str = "sim"
    message: str | None = None
    param: str | None = None
    status: int = 400  # of a rejected request (``RequestError``)
    code: str | None = None
    retry_after: int | None = None  # from the URL's fault spec; None: the default header
    retry_after_ms: int | None = None

    def retry_wait(self) -> str:
        """The wait a throttling message names: ``250ms`` or ``7s``."""
        if self.retry_after_ms is not None:
            return f"{self.retry_after_ms}ms"
        seconds = RETRY_AFTER_SECONDS if self.retry_after is None else self.retry_after
        return f"{seconds}s"


class Vendor(abc.ABC):
    """One wire format. Subclasses encode; the pipeline here decides what to send."""

    name: str
    stream_media_type: str = "text/event-stream; charset=utf-8"
    content_policy_is_stop: bool = False  # True: a filtered 200 answer, not an HTTP error
    retry_after_ms_header: str | None = None  # a vendor's millisecond retry header, if any
    touches_cache: bool = True  # False: token counting, which must not warm the prompt cache

    @abc.abstractmethod
    def credential(self, request: Request) -> str: ...

    @abc.abstractmethod
    def check_auth(self, request: Request) -> Response | None: ...

    @abc.abstractmethod
    def parse(self, body: dict[str, Any], request: Request) -> Parsed: ...

    @abc.abstractmethod
    def error(self, kind: str, ctx: ErrorContext) -> Response:
        """``kind`` is an ERROR_FAULTS name, ``content_policy``, ``bad_json`` or ``denied``."""

    @abc.abstractmethod
    def success(self, plan: Plan) -> dict[str, Any]: ...

    @abc.abstractmethod
    def events(self, plan: Plan) -> list[Ev]: ...

    @abc.abstractmethod
    def stream_error(self) -> bytes: ...

    @abc.abstractmethod
    def stream_invalid(self) -> bytes: ...

    def stream_error_after(self, sent: int) -> bytes:
        """The mid-stream error once ``sent`` events went out (for vendors that number them)."""
        del sent
        return self.stream_error()

    def headers(self, request_id: str) -> dict[str, str]:
        return {"x-request-id": request_id}

    def success_headers(self, plan: Plan) -> dict[str, str]:
        """Headers only a 200 answer carries (Bedrock InvokeModel's token counts)."""
        del plan
        return {}

    def retry_headers(self, status: int, ctx: ErrorContext) -> dict[str, str]:
        """``retry-after`` on every 429; on 429/503/529, what the URL's fault spec asks."""
        if status not in (429, 503, 529):
            return {}
        if ctx.retry_after is None and ctx.retry_after_ms is None:
            return {"retry-after": RETRY_AFTER_SECONDS} if status == 429 else {}
        headers: dict[str, str] = {}
        if ctx.retry_after is not None:
            headers["retry-after"] = str(ctx.retry_after)
        if ctx.retry_after_ms is not None and self.retry_after_ms_header:
            headers[self.retry_after_ms_header] = str(ctx.retry_after_ms)
        return headers

    def request_id(self, seq: int) -> str:
        return f"req_sim{seq:018d}"


def json_response(body: object, status: int, headers: dict[str, str]) -> Response:
    return Response(json.dumps(body).encode(), status, headers=headers, media_type=JSON)


async def _stalled_body(seconds: float) -> AsyncIterator[bytes]:
    await anyio.sleep(seconds)
    yield b""


def _cut(events: Sequence[Ev], nth_delta: int) -> int:
    """Index just past the nth content event, or of the first terminal event if sooner."""
    seen = 0
    for index, event in enumerate(events):
        if event.kind == "tail":
            return index
        if event.kind == "delta":
            seen += 1
            if seen == nth_delta:
                return index + 1
    return len(events)


async def drive(
    vendor: Vendor, events: list[Ev], fault: str | None, stall: float
) -> AsyncIterator[bytes]:
    """Yield the stream, broken the way ``fault`` says."""
    if fault == "truncate":
        events = events[: _cut(events, 2)]
    elif fault in ("stall_after_first", "error_event", "invalid_json"):
        events = events[: _cut(events, 1)]
    for event in events:
        yield event.data
    if fault == "stall_after_first":
        await anyio.sleep(stall)
    elif fault == "error_event":
        yield vendor.stream_error_after(len(events))
    elif fault == "invalid_json":
        yield vendor.stream_invalid()


def _non_stream(vendor: Vendor, plan: Plan, fault: str | None, stall: float, rid: str) -> Response:
    headers = {**vendor.headers(rid), **vendor.success_headers(plan)}
    if fault == "stall_after_first":
        return StreamingResponse(_stalled_body(stall), headers=headers, media_type=JSON)
    body = json.dumps(vendor.success(plan)).encode()
    if fault == "truncate":
        body = body[: len(body) // 2]
    elif fault == "invalid_json":
        body = INVALID_JSON
    return Response(body, headers=headers, media_type=JSON)


def respond(
    vendor: Vendor, plan: Plan, fault: str | None, ctx: ErrorContext, stall: float
) -> Response:
    stream = plan.parsed.stream
    if fault in ERROR_FAULTS or (fault == "content_policy" and not vendor.content_policy_is_stop):
        return vendor.error(fault, ctx)
    if fault == "error_event" and not stream:
        return vendor.error("500", ctx)
    if fault == "timeout":
        return StallResponse(stall)
    if fault == "reset":
        return ResetResponse()
    if fault == "html":
        return Response(HTML_PAGE, media_type="text/html; charset=utf-8")
    plan.refused = fault == "content_policy"
    if not stream:
        return _non_stream(vendor, plan, fault, stall, ctx.request_id)
    body = drive(vendor, vendor.events(plan), fault, stall)
    headers = {**vendor.headers(ctx.request_id), **vendor.success_headers(plan)}
    headers["cache-control"] = "no-cache"
    return StreamingResponse(body, headers=headers, media_type=vendor.stream_media_type)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def select_fault(
    request: Request, user_text: str, state: SimState, ctx: ErrorContext, spec: FaultSpec | None
) -> str | None:
    """The URL's spec (its retry hints go to ``ctx``), header, marker, server-level fault."""
    if spec is not None and state.take_spec_fault(spec.text, spec.times):
        ctx.retry_after, ctx.retry_after_ms = spec.retry_after, spec.retry_after_ms
        return spec.name
    named = request.headers.get("x-sim-fault") or fault_marker(user_text)
    if named:
        return check_fault(named)
    return state.take_fault()


def select_chunks(request: Request, user_text: str) -> int:
    chosen = _int_or_none(request.headers.get("x-sim-chunks")) or chunks_marker(user_text)
    return max(1, min(chosen or DEFAULT_CHUNKS, MAX_CHUNKS))


def record(request: Request, raw: bytes, body: object, vendor: str) -> dict[str, Any]:
    """What `GET /_sim/requests` lists of one request (a vendor's, or a token endpoint's)."""
    return {
        "vendor": vendor,
        "method": request.method,
        "path": request.url.path,
        "raw_path": request.scope.get("raw_path", b"").decode("latin-1"),
        "query": request.url.query,
        "headers": dict(request.headers.items()),
        "json": body,
        "body": None if body is not None else raw.decode("utf-8", "replace"),
    }


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


_ANSWERING = frozenset({"stall_after_first", "truncate", "error_event", "invalid_json"})


def _cache_usage(
    vendor: Vendor, state: SimState, parsed: Parsed, fault: str | None
) -> tuple[int, int]:
    """Only requests that get an answer touch the prompt cache."""
    if vendor.touches_cache and (fault is None or fault in _ANSWERING):
        return state.cache_usage(parsed.scan, parsed.model)
    return 0, 0


def sim_state(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


async def handle(vendor: Vendor, request: Request) -> Response:
    state = sim_state(request)
    raw = await request.body()
    body = _parse_json(raw)
    state.requests.append(record(request, raw, body, vendor.name))
    try:
        spec = url_fault_spec(request, vendor)
    except ValueError as exc:
        return PlainTextResponse(str(exc), 400)
    denied = vendor.check_auth(request)
    if denied is not None:
        return denied
    seq = state.next_seq()
    ctx = ErrorContext(credential=vendor.credential(request), request_id=vendor.request_id(seq))
    if not isinstance(body, dict):
        return vendor.error("bad_json", ctx)
    try:
        parsed = vendor.parse(body, request)
    except RequestError as exc:
        ctx.message, ctx.param = str(exc), exc.param
        ctx.status, ctx.code = exc.status, exc.code
        return vendor.error("400", ctx)
    try:
        fault = select_fault(request, parsed.user_text, state, ctx, spec)
    except ValueError as exc:
        return PlainTextResponse(str(exc), 400)
    read, write = _cache_usage(vendor, state, parsed, fault)
    plan = Plan(parsed, select_chunks(request, parsed.user_text), seq, read, write)
    ctx.model, ctx.input_tokens = plan.model, parsed.scan.total_tokens()
    response = respond(vendor, plan, fault, ctx, state.stall_seconds)
    if isinstance(response, StreamingResponse):
        response.body_iterator = _counted(state, response.body_iterator)
    return response


async def _counted(state: SimState, body: AsyncIterable[Any]) -> AsyncIterator[Any]:
    """Track streams in flight, so tests can see a client's disconnect reach the upstream."""
    state.open_streams += 1
    try:
        async for piece in body:
            yield piece
    finally:
        state.open_streams -= 1
