"""Any string a caller can send, wherever it lands in the spend event, ends one of two
ways: a 4xx, or a request charged exactly once. Never a 5xx, a lost event or one stuck
in the sandbox's memory (gateway/schemas/bounds.py, gateway/spend/events.py).

The strings are drawn from every length up to 2 MB (sizes around each limit, and far
past them) and any content: NUL, bidirectional marks, astral characters, and lone
surrogates (which only JSON's escapes can carry). They go into `user`, `model`, a spend
tag or a metadata value, on the chat and Messages routes, streamed or not, against the
gateway under uvicorn (its body limit, its lifespan shutdown) with a budgeted key.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys import bearer, make_key
from servers import serve
from spend_helpers import ledger

if TYPE_CHECKING:
    import pytest

    from conftest import GatewayTable

SIZES = (0, 1, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1025, 65_536)
HUGE = (300_000, 900_000, 1_100_000, 2_000_000)
SPECIAL = ("a", "é", "😀", "\u202e", "\u200f", "\x00", "\ud800", "\udfff", "\ufeff", '"\\')
PLACES = ("user", "model", "tag", "metadata")
ROUTES = ("/v1/chat/completions", "/v1/messages")
EXAMPLES = 150


def _repeated(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


# Any code point, surrogates included (hypothesis leaves those out by default).
_chars = st.characters(exclude_categories=())
caller_strings = st.one_of(
    st.text(_chars, max_size=300),
    st.builds(
        _repeated,
        st.one_of(st.sampled_from(SPECIAL), st.text(_chars, min_size=1, max_size=3)),
        st.sampled_from(SIZES) | st.sampled_from(HUGE),
    ),
)


def body_of(route: str, place: str, text: str, stream: bool) -> dict[str, Any]:
    message = [{"role": "user", "content": "hello"}]
    body: dict[str, Any] = {"model": "metered", "messages": message, "max_tokens": 5}
    if stream:
        body["stream"] = True
    metadata: dict[str, Any] = {}
    if place == "model":
        body["model"] = text
    elif place == "user" and route == "/v1/messages":
        metadata["user_id"] = text
    elif place == "user":
        body["user"] = text
    elif place == "tag":
        metadata["tags"] = [text]
    else:
        metadata["note"] = text
    if metadata:
        body["metadata"] = metadata
    return body


def encoded(body: dict[str, Any], escaped: bool) -> bytes:
    """The body as a client sends it: UTF-8, or every non-ASCII character escaped (the
    only way a lone surrogate can travel)."""
    if not escaped:
        try:
            return json.dumps(body, ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate
            pass
    return json.dumps(body).encode()


@dataclass
class Seen:
    served: set[str] = field(default_factory=set)  # 2xx request ids
    refused: set[str] = field(default_factory=set)  # 4xx request ids
    statuses: dict[int, int] = field(default_factory=dict)


def test_any_caller_string_is_a_4xx_or_charged_exactly_once(
    spend_env: GatewayTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.config import settings as gateway_settings
    from gateway.http.app import create_app
    from gateway.local.spend_worker import drain_sync

    monkeypatch.setenv("GATEWAY_SPEND_FLUSH_S", "30")  # the shutdown delivers the rest
    gateway_settings.cache_clear()
    key = make_key(spend_env, max_budget_micros=10**9)
    seen = Seen()
    app = create_app()

    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(
            text=caller_strings,
            place=st.sampled_from(PLACES),
            route=st.sampled_from(ROUTES),
            stream=st.booleans(),
            escaped=st.booleans(),
        )
        def one(text: str, place: str, route: str, stream: bool, escaped: bool) -> None:
            content = encoded(body_of(route, place, text, stream), escaped)
            headers = {**bearer(key), "content-type": "application/json"}
            response = client.post(route, content=content, headers=headers)
            status = response.status_code
            seen.statuses[status] = seen.statuses.get(status, 0) + 1
            assert status < 500, response.text[:500]
            assert len(response.content) < 100_000  # a refusal does not echo the string
            rid = response.headers.get("x-request-id") or response.headers["request-id"]
            if status < 300:
                assert "error" not in response.text[-300:]  # a stream that ended well
                seen.served.add(rid)
            else:
                assert status >= 400
                seen.refused.add(rid)

        one()
        (_, outbox) = app.state.spend
    # The server's shutdown has delivered what it still held: nothing is stuck.
    assert not outbox.waiting
    assert not outbox.emitter.pending
    stats = drain_sync(os.environ["GATEWAY_SPEND_QUEUE_URL"], spend_env.name)
    charged = [item["request_id"] for item in ledger(spend_env)]
    assert len(charged) == len(set(charged)) == stats.applied
    assert stats.failed == 0
    assert seen.served <= set(charged), seen.statuses  # every served request is charged
    assert set(charged) <= seen.served | seen.refused  # and nothing else
    assert seen.served, seen.statuses  # the property saw both endings
    assert seen.refused, seen.statuses
