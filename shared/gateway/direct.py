"""One attempt of a request answered in one JSON body (embeddings, rerank) on one
deployment: send its upstream calls, map a failure, and make the Outcome.

A request may take several calls (Titan embeds one text per call): they run at most
CONCURRENCY at a time and their answers come back in call order. The first failure
cancels the calls still running; once any call had answered 2xx the error carries
`billed`, since the provider charges for that call whatever happens to the rest.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, cast

from gateway import errors
from gateway.completions import Outcome
from gateway.providers import sse, transport
from gateway.providers.dialects import dialect
from gateway.redaction import redact
from gateway.spend.cost import format_usd

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.config import Deployment
    from gateway.providers.spec import TokenUsage, UpstreamRequest
    from gateway.providers.transport import RawResponse

CONCURRENCY = 8


async def send(
    upstreams: Sequence[UpstreamRequest], deployment: Deployment, timeout_s: float
) -> list[RawResponse]:
    """Every call's answer, in order; raises the first failure as a GatewayError."""
    target = deployment.target
    gate = asyncio.Semaphore(CONCURRENCY)
    answered = 0

    async def one(upstream: UpstreamRequest) -> RawResponse:
        nonlocal answered
        async with gate:
            raw = await transport.send(upstream, timeout_s)
        if raw.status >= 400:
            error = dialect(target.dialect).map_error(raw.status, raw.body, raw.headers)
            error.message = redact(error.message, target.api_key)
            error.billed = error.billed or answered > 0
            raise error
        answered += 1
        return raw

    if len(upstreams) == 1:
        return [await one(upstreams[0])]
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(upstream)) for upstream in upstreams]
    except* errors.GatewayError as failed:
        first = cast("errors.GatewayError", failed.exceptions[0])
        first.billed = first.billed or answered > 0
        raise first from None
    return [task.result() for task in tasks]


def parsed(error: errors.GatewayError, deployment: Deployment) -> errors.GatewayError:
    """A 2xx answer the gateway could not read: billed, and scrubbed of the key."""
    error.message = redact(error.message, deployment.target.api_key)
    error.billed = True
    return error


def outcome(
    request_id: str,
    deployment: Deployment,
    body: dict[str, Any],
    usage: TokenUsage,
    cost: int | None,
    *,
    started: float,
    record: bool,
    dropped: tuple[str, ...] = (),
) -> Outcome:
    headers = {"x-request-id": request_id, "x-gateway-provider": deployment.target.provider}
    if dropped:
        headers["x-gateway-dropped-params"] = ",".join(dropped)
    if cost is not None:
        headers["x-gateway-cost-usd"] = format_usd(cost)
    return Outcome(
        headers=headers,
        body=sse.dumps(body),
        usage=usage,
        cost_micros=cost,
        first_byte_s=time.monotonic() - started,
        completion=body if record else None,
    )
