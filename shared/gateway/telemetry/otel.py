"""Optional OpenTelemetry export: each request's GenAI metrics, to an OTLP/HTTP endpoint.

Off unless GATEWAY_OTEL_ENDPOINT is set (a collector's base URL, e.g.
http://127.0.0.1:4318, or its full /v1/metrics URL); this module is imported only then,
so a gateway without it pays nothing at import or per request.
GATEWAY_OTEL_HEADERS adds headers (`k1=v1,k2=v2`, as OTEL_EXPORTER_OTLP_HEADERS: values
URL-decoded), e.g. a vendor's API key; GATEWAY_OTEL_INTERVAL_S (10) is how long points
are aggregated before an export (0: after every request).

Instruments, per the GenAI semantic conventions
(https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/), with their
advised bucket boundaries:
- gen_ai.client.token.usage ({token}): input and output tokens of each served request
  (the gateway is the provider's client), `gen_ai.token.type` input or output;
- gen_ai.server.request.duration (s): each request the router took (served, or
  failed on the way: not one refused before, such as by a key's limits), with
  `error.type` (OpenAI's error type, a closed set) when it failed;
- gen_ai.server.time_to_first_token (s): each stream that produced a first token.
Attributes: gen_ai.operation.name (chat, text_completion, embeddings, rerank),
gen_ai.provider.name (openai, anthropic, aws.bedrock, cohere, ...), gen_ai.request.model
(the model group asked for) and gen_ai.response.model (the provider's model that
served): all bounded by the config, never by what a client sends.

Delivery never touches the request path: a request adds its points in memory after its
last byte; a task of the app instance exports them when the interval is up, as the spend
outbox delivers (gateway/billing/outbox.py): a sandbox frozen meanwhile exports on thaw,
and the lifespan shutdown exports what is left. An export that fails with a retryable
answer (a network error, 429, 5xx) keeps its points for the next one; one the collector
refuses (another 4xx) is dropped with a warning. Metrics never fail a request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import urllib.parse
import weakref
from typing import TYPE_CHECKING

import httpx
import orjson

from gateway.telemetry.otlp import Aggregate, Attributes, Instrument, document

if TYPE_CHECKING:
    from gateway.telemetry.record import RequestRecord

logger = logging.getLogger(__name__)

SCOPE = ("llm-gateway", "0.1.0")
TIMEOUT_S = 5.0
RETRYABLE = frozenset({429, 502, 503, 504})
RETRY_S = 5.0  # the least wait before retrying a failed export

TOKEN_USAGE = Instrument(
    "gen_ai.client.token.usage",
    "{token}",
    "Number of input and output tokens used.",
    tuple(float(4**n) for n in range(14)),  # 1, 4, 16, ... 67108864
)
REQUEST_DURATION = Instrument(
    "gen_ai.server.request.duration",
    "s",
    "Generative AI server request duration such as time-to-last byte or last output token.",
    tuple(0.01 * 2**n for n in range(14)),  # 0.01, 0.02, 0.04, ... 81.92
)
TIME_TO_FIRST_TOKEN = Instrument(
    "gen_ai.server.time_to_first_token",
    "s",
    "Time to generate first token for successful responses.",
    (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0),
)

# The gateway's route (after /v1 or /v2) -> gen_ai.operation.name.
OPERATIONS = {
    "/chat/completions": "chat",
    "/messages": "chat",
    "/responses": "chat",
    "/completions": "text_completion",
    "/embeddings": "embeddings",
    "/rerank": "rerank",
}
# The gateway's provider names -> gen_ai.provider.name's well-known values.
PROVIDERS = {"bedrock": "aws.bedrock", "gemini": "gcp.gemini", "vertex_ai": "gcp.vertex_ai"}

_exporters: weakref.WeakSet[Exporter] = weakref.WeakSet()


def metrics_url(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/metrics") else f"{endpoint}/v1/metrics"


def parse_headers(text: str) -> dict[str, str]:
    """OTEL_EXPORTER_OTLP_HEADERS' format: comma-separated key=value, values URL-encoded."""
    headers = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        if sep and key.strip():
            headers[key.strip()] = urllib.parse.unquote(value.strip())
    return headers


def resource() -> Attributes:
    env = os.environ
    pairs: list[tuple[str, str | int | bool]] = [
        ("service.name", env.get("POWERTOOLS_SERVICE_NAME") or "llm-gateway"),
        ("telemetry.sdk.name", "llm-gateway"),
        ("telemetry.sdk.language", "python"),
    ]
    if function := env.get("AWS_LAMBDA_FUNCTION_NAME"):
        pairs += [("cloud.provider", "aws"), ("faas.name", function)]
        if region := env.get("AWS_REGION"):
            pairs.append(("cloud.region", region))
    return tuple(pairs)


def points(record: RequestRecord) -> list[tuple[Instrument, float, Attributes]]:
    """The request's measurements under the GenAI conventions (none for a request the
    router never took, such as a refused key or a /v1/models call)."""
    path = record.path.removeprefix("/v1").removeprefix("/v2")
    operation = OPERATIONS.get(path)
    if operation is None or (record.model_group is None and record.requested_model is None):
        return []
    provider = PROVIDERS.get(record.provider or "", record.provider) or "_OTHER"
    base: Attributes = (
        ("gen_ai.operation.name", operation),
        ("gen_ai.provider.name", provider),
        ("gen_ai.request.model", record.model_group or record.requested_model or ""),
    )
    if record.response_model:
        base += (("gen_ai.response.model", record.response_model),)
    duration = base + ((("error.type", record.error_type or "_OTHER"),) if record.failed else ())
    out = [(REQUEST_DURATION, record.latency_ms / 1000, duration)]
    if record.model_group and not record.failed:
        out += [
            (TOKEN_USAGE, float(record.input_tokens), (*base, ("gen_ai.token.type", "input"))),
            (TOKEN_USAGE, float(record.output_tokens), (*base, ("gen_ai.token.type", "output"))),
        ]
    if record.stream and record.ttft_ms is not None and not record.failed:
        out.append((TIME_TO_FIRST_TOKEN, record.ttft_ms / 1000, base))
    return out


class Exporter:
    """One per app instance (the inference app's telemetry middleware holds it)."""

    def __init__(self, endpoint: str, headers: dict[str, str], interval_s: float) -> None:
        self.url = metrics_url(endpoint)
        self.headers = {**headers, "content-type": "application/json"}
        self.interval_s = interval_s
        self.resource = resource()
        self.pending = Aggregate(time.time_ns())
        self.due = time.time() + interval_s
        self.task: asyncio.Task[None] | None = None
        self.exporting = False  # the task is sending (not waiting): let it finish
        self.closing = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: httpx.AsyncClient | None = None
        _exporters.add(self)

    @classmethod
    def from_env(cls) -> Exporter:
        env = os.environ
        return cls(
            env["GATEWAY_OTEL_ENDPOINT"],
            parse_headers(env.get("GATEWAY_OTEL_HEADERS", "")),
            float(env.get("GATEWAY_OTEL_INTERVAL_S", "10")),
        )

    def record(self, record: RequestRecord) -> None:
        """Add the request's points (no I/O, never raises) and see that an export follows."""
        try:
            for instrument, value, attributes in points(record):
                self.pending.record(instrument, value, attributes)
            if self.pending.series and (self.task is None or self.task.done()):
                self.loop = asyncio.get_running_loop()
                self.task = self.loop.create_task(self._run())
        except Exception:
            logger.debug("could not record the request's OpenTelemetry points", exc_info=True)

    async def _run(self) -> None:
        while self.pending.series and not self.closing:
            # The wall clock, not the loop's: a sandbox thawed after the interval exports
            # at once.
            while (wait := self.due - time.time()) > 0:
                await asyncio.sleep(min(wait, 1.0))
            self.exporting = True
            try:
                await self.export()
            finally:
                self.exporting = False

    async def export(self) -> None:
        """Send what is pending; keep it for a later export if the send may succeed then."""
        batch, self.pending = self.pending, Aggregate(time.time_ns())
        self.due = time.time() + self.interval_s
        if not batch.series:
            return
        body = orjson.dumps(document(batch, self.pending.start_ns, self.resource, SCOPE))
        status: int | None = None
        try:
            if self.client is None:
                self.client = httpx.AsyncClient(timeout=TIMEOUT_S)
            response = await self.client.post(self.url, content=body, headers=self.headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            logger.warning("OpenTelemetry export failed (%s): kept for a later export", exc)
        except BaseException:  # cancelled: the points stay for whoever exports next
            self.pending.merge(batch)
            raise
        if status is None or status in RETRYABLE or status >= 500:
            self.pending.merge(batch)
            self.due = time.time() + max(self.interval_s, RETRY_S)
        elif status >= 400:
            logger.warning("OpenTelemetry export refused with %d: points dropped", status)

    async def settle(self) -> None:
        """Export everything now (shutdown): after a send in flight, what is left."""
        self.closing = True
        if self.task is not None and not self.task.done():
            if self.exporting:
                await asyncio.shield(self.task)
            else:
                self.task.cancel()
        await self.export()
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        self.closing = False


async def settle(timeout_s: float | None = None) -> None:
    """Export what every exporter of this event loop still holds (shutdown, tests)."""
    loop = asyncio.get_running_loop()
    pending = [e.settle() for e in list(_exporters) if e.loop is loop]
    if pending:
        try:
            await asyncio.wait_for(asyncio.gather(*pending), timeout_s)
        except TimeoutError:
            logger.warning("shutdown: OpenTelemetry points not exported in time")
