"""The router against the fault-injecting simulator: retries, fallbacks, cooldowns.

Each deployment picks its fault by its base URL (`/_fault/<spec>/...` on the
simulator), so one model group can hold a failing and a healthy deployment. `bad`
has order 1 (always tried first) and `good` order 2.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from conftest import MASTER_KEY, OPENAI_KEY
from keys import asgi_client, bearer, chat
from servers import free_port

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio
AUTH = bearer(MASTER_KEY)


def openai(group: str, model_id: str, base: str, **params: Any) -> dict[str, Any]:
    return {
        "model_name": group,
        "litellm_params": {
            "model": f"openai/{model_id}-model",
            "api_base": base,
            "api_key": OPENAI_KEY,
            **params,
        },
        "model_info": {"id": model_id},
    }


@pytest.fixture
def configure(sim: SimulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """configure(model_list, **router_settings) -> a fresh app on that config."""
    from gateway.http import dependencies
    from gateway.http.app import create_app

    monkeypatch.setenv("GATEWAY_MASTER_KEY", MASTER_KEY)
    sim.sim.stall_seconds = 3

    def make(model_list: list[dict[str, Any]], **router_settings: Any) -> Any:
        path = tmp_path / "config.yaml"
        path.write_text(json.dumps({"model_list": model_list, "router_settings": router_settings}))
        monkeypatch.setenv("GATEWAY_CONFIG", str(path))
        dependencies.reset()
        return create_app()

    yield make
    dependencies.reset()


def base(sim: SimulatorApp, spec: str | None = None) -> str:
    url: str = sim.state.url
    return f"{url}/_fault/{spec}/v1" if spec else f"{url}/v1"


def calls(sim: SimulatorApp, model_id: str) -> int:
    return sum(1 for r in sim.requests if (r.get("json") or {}).get("model") == f"{model_id}-model")


def pair(sim: SimulatorApp, bad_base: str) -> list[dict[str, Any]]:
    return [
        openai("g", "bad", bad_base, order=1, timeout=1, stream_timeout=1),
        openai("g", "good", base(sim), order=2),
    ]


def events(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


# ---- the fault matrix ---------------------------------------------------------------------

BEFORE_FIRST_BYTE = [
    "429,retry_after=1",
    "500",
    "502",
    "503",
    "529",
    "timeout",
    "html",
    "reset",
    "refused",
]
# Faults that break a stream after valid chunks; a non-streamed answer fails before any byte.
AFTER_FIRST_BYTE = ["truncate", "error_event", "invalid_json", "stall_after_first"]


MAYBE_BILLED = {"timeout", "html", "invalid_json", "truncate", "stall_after_first"}


def fault_base(sim: SimulatorApp, fault: str) -> str:
    if fault == "refused":
        return f"http://127.0.0.1:{free_port()}/v1"
    return base(sim, fault)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("fault", BEFORE_FIRST_BYTE + AFTER_FIRST_BYTE)
async def test_fault_matrix(configure: Any, sim: SimulatorApp, fault: str, stream: bool) -> None:
    app = configure(
        pair(sim, fault_base(sim, fault)), num_retries=1, allowed_fails=0, cooldown_time=30
    )
    async with asgi_client(app) as client:
        response = await client.post(
            "/v1/chat/completions", json=chat("g", stream=stream), headers=AUTH
        )
    late = stream and fault in AFTER_FIRST_BYTE
    assert response.status_code == 200, response.text
    if late:  # too late to retry: the stream ends with an error event, never [DONE]
        assert response.headers["x-gateway-model-id"] == "bad"
        assert response.headers["x-gateway-attempts"] == "1"
        data = events(response.text)
        assert "error" in json.loads(data[-1])
        assert "[DONE]" not in data
        assert calls(sim, "good") == 0
    else:  # retried on the healthy deployment; the client never saw the failure
        assert response.headers["x-gateway-model-id"] == "good"
        assert response.headers["x-gateway-attempts"] == "2"
        if stream:
            assert events(response.text)[-1] == "[DONE]"
        else:
            assert response.json()["choices"][0]["message"]["content"] == "Echo: hello"
        assert calls(sim, "good") == 1
    # The provider may charge for an attempt it answered 2xx, or one it was still working
    # on when we gave up; not for a refusal, a reset or an error status.
    billed = 1 if late else 1 + (fault in MAYBE_BILLED)
    assert response.headers["x-gateway-billed-attempts"] == str(billed)
    # Every one of these faults cools the failing deployment (allowed_fails=0).
    router = app.state.router[1]
    assert "bad" in await router.cooldowns.cooling(["bad", "good"])
    async with asgi_client(app) as client:
        again = await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
    assert again.headers["x-gateway-model-id"] == "good"
    assert again.headers["x-gateway-attempts"] == "1"


async def test_a_request_error_is_never_retried_and_never_cools(
    configure: Any, sim: SimulatorApp
) -> None:
    app = configure(pair(sim, base(sim, "400")), allowed_fails=0)
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
    assert response.status_code == 400
    assert response.headers["x-gateway-attempts"] == "1"
    assert calls(sim, "good") == 0
    assert await app.state.router[1].cooldowns.cooling(["bad", "good"]) == {}


async def test_every_deployment_cooling_is_503_with_the_soonest_recovery(
    configure: Any, sim: SimulatorApp
) -> None:
    app = configure(
        [openai("g", "a", base(sim, "500")), openai("g", "b", base(sim, "502"))],
        allowed_fails=0,
        cooldown_time=20,
        num_retries=1,
    )
    async with asgi_client(app) as client:
        first = await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
        second = await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
    assert first.status_code == 502
    assert first.headers["x-gateway-attempts"] == "2"
    assert second.status_code == 503
    assert second.json()["error"]["code"] == "no_healthy_deployment"
    assert 18 <= int(second.headers["retry-after"]) <= 20
    assert second.headers["x-gateway-attempts"] == "0"


async def test_retry_after_is_honoured_on_a_lone_deployment(
    configure: Any, sim: SimulatorApp
) -> None:
    app = configure([openai("g", "only", base(sim, "429,retry_after=1,times=1"))], allowed_fails=0)
    started = time.monotonic()
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
    assert response.status_code == 200
    assert response.headers["x-gateway-attempts"] == "2"
    assert time.monotonic() - started >= 1.0
    assert await app.state.router[1].cooldowns.cooling(["only"]) == {}  # never cooled: alone


async def test_a_wait_past_the_deadline_is_not_taken(configure: Any, sim: SimulatorApp) -> None:
    app = configure([openai("g", "only", base(sim, "429,retry_after=30"))], timeout=5)
    started = time.monotonic()
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
    assert response.status_code == 429
    assert response.headers["x-gateway-attempts"] == "1"
    assert time.monotonic() - started < 2


async def test_retries_are_bounded_by_num_retries_and_back_off(
    configure: Any, sim: SimulatorApp
) -> None:
    app = configure([openai("g", "only", base(sim, "500"))], num_retries=2)
    started = time.monotonic()
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
        once = await client.post(
            "/v1/chat/completions", json=chat("g", num_retries=0), headers=AUTH
        )
    assert response.status_code == 502
    assert response.headers["x-gateway-attempts"] == "3"
    assert time.monotonic() - started >= 0.25 + 0.5  # jittered backoffs: >= half of 0.5, 1.0
    assert once.headers["x-gateway-attempts"] == "1"
    assert calls(sim, "only") == 4
    for request in sim.requests:
        assert "num_retries" not in request["json"]  # routing fields never go upstream


async def test_fallbacks_cross_providers_and_translate_anew(
    configure: Any, sim: SimulatorApp
) -> None:
    claude = {
        "model_name": "claude",
        "litellm_params": {
            "model": "anthropic/claude-3-5-haiku-20241022",
            "api_base": sim.state.url,
            "api_key": "sk-ant-test",
        },
    }
    app = configure(
        [openai("g", "bad", base(sim, "503")), claude], fallbacks=[{"g": ["claude"]}], num_retries=0
    )
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-fallback"] == "claude"
    assert response.headers["x-gateway-attempts"] == "2"
    assert sim.requests[-1]["vendor"] == "anthropic"
    assert response.json()["choices"][0]["message"]["content"] == "Echo: hello"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_a_messages_request_falls_back_from_claude_to_another_vendor(
    configure: Any, sim: SimulatorApp, stream: bool
) -> None:
    """The Messages API switches path with the deployment: native on Claude, through
    chat on the fallback, and the client sees one Anthropic answer."""
    claude = {
        "model_name": "claude",
        "litellm_params": {
            "model": "anthropic/claude-3-5-haiku-20241022",
            "api_base": f"{sim.state.url}/_fault/503",
            "api_key": "sk-ant-test",
        },
    }
    app = configure(
        [claude, openai("g", "good", base(sim))], fallbacks=[{"claude": ["g"]}], num_retries=0
    )
    body = {
        "model": "claude",
        "max_tokens": 50,
        "stream": stream,
        "messages": [{"role": "user", "content": "hello"}],
    }
    async with asgi_client(app) as client:
        response = await client.post("/v1/messages", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-fallback"] == "g"
    assert [r["vendor"] for r in sim.requests] == ["anthropic", "openai"]
    if stream:
        from gateway.messages.fold import fold

        message = fold([json.loads(data) for data in events(response.text)])
    else:
        message = response.json()
    assert message["content"] == [{"type": "text", "text": "Echo: hello"}]
    assert message["model"] == "g"  # the group that served, as on chat
    assert message["id"] == f"msg_{response.headers['x-request-id']}"


async def test_per_request_fallbacks_win_and_are_not_sent_upstream(
    configure: Any, sim: SimulatorApp
) -> None:
    app = configure(
        [
            openai("g", "bad", base(sim, "500")),
            openai("b", "b", base(sim)),
            openai("c", "c", base(sim)),
        ],
        fallbacks=[{"g": ["c"]}],
        num_retries=0,
    )
    async with asgi_client(app) as client:
        response = await client.post(
            "/v1/chat/completions", json=chat(model="g", fallbacks=["b"]), headers=AUTH
        )
    assert response.headers["x-gateway-fallback"] == "b"
    assert "fallbacks" not in sim.requests[-1]["json"]


async def test_context_window_errors_fall_back_to_the_bigger_model(
    configure: Any, sim: SimulatorApp
) -> None:
    app = configure(
        [openai("small", "small", base(sim, "context_length")), openai("big", "big", base(sim))],
        context_window_fallbacks=[{"small": ["big"]}],
        fallbacks=[{"small": ["nowhere"]}],
    )
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=chat(model="small"), headers=AUTH)
    assert response.status_code == 200
    assert response.headers["x-gateway-fallback"] == "big"
    assert response.headers["x-gateway-attempts"] == "2"  # no retry of the request's own error


async def test_a_prompt_provably_too_long_skips_the_call(configure: Any, sim: SimulatorApp) -> None:
    small = openai("small", "small", base(sim))
    small["model_info"]["max_input_tokens"] = 5
    app = configure(
        [small, openai("big", "big", base(sim))], context_window_fallbacks=[{"small": ["big"]}]
    )
    async with asgi_client(app) as client:
        response = await client.post(
            "/v1/chat/completions", json=chat(model="small", text="x" * 128 * 6), headers=AUTH
        )
        short = await client.post("/v1/chat/completions", json=chat(model="small"), headers=AUTH)
    assert response.headers["x-gateway-fallback"] == "big"
    assert response.headers["x-gateway-attempts"] == "1"
    assert calls(sim, "small") == 1  # only the short prompt reached it
    assert short.headers["x-gateway-model-id"] == "small"


async def test_content_policy_falls_back(configure: Any, sim: SimulatorApp) -> None:
    app = configure(
        [openai("strict", "strict", base(sim, "content_policy")), openai("other", "o", base(sim))],
        content_policy_fallbacks=[{"strict": ["other"]}],
    )
    async with asgi_client(app) as client:
        response = await client.post(
            "/v1/chat/completions", json=chat(model="strict"), headers=AUTH
        )
    assert response.status_code == 200
    assert response.headers["x-gateway-fallback"] == "other"


async def test_weighted_shuffle_spreads_traffic_by_weight(
    configure: Any, sim: SimulatorApp
) -> None:
    app = configure(
        [openai("g", "light", base(sim), weight=1), openai("g", "heavy", base(sim), weight=3)]
    )
    async with asgi_client(app) as client:
        for _ in range(400):
            await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
    assert abs(calls(sim, "heavy") / 400 - 0.75) < 0.07


async def test_the_served_deployment_is_named_without_credentials(
    configure: Any, sim: SimulatorApp
) -> None:
    app = configure([openai("g", "named", base(sim))])
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
    assert response.headers["x-gateway-model-id"] == "named"
    assert OPENAI_KEY not in str(response.headers)


# ---- state shared by every instance through the table ------------------------------------


def shared_router(app: Any, cache_s: float) -> Any:
    from gateway.http.dependencies import table
    from gateway.router.cooldowns import Cooldowns
    from gateway.router.engine import Router
    from gateway.router.usage import DeploymentUsage

    db = table()
    router = Router(Cooldowns(db, cache_s=cache_s), DeploymentUsage(db, cache_s=cache_s))
    app.state.router = (db, router)
    return router


async def test_instances_see_each_others_cooldowns(
    configure: Any, sim: SimulatorApp, gateway_table: Any
) -> None:
    model_list = pair(sim, base(sim, "500"))
    first = configure(model_list, allowed_fails=0, cooldown_time=30)
    shared_router(first, cache_s=1.0)
    async with asgi_client(first) as client:
        response = await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
    assert response.headers["x-gateway-attempts"] == "2"  # bad failed, good served
    assert calls(sim, "bad") == 1
    from gateway.http.app import create_app

    second = create_app()  # another sandbox: its own caches, the same table
    shared_router(second, cache_s=1.0)
    async with asgi_client(second) as client:
        for _ in range(5):
            response = await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
            assert response.headers["x-gateway-model-id"] == "good"
            assert response.headers["x-gateway-attempts"] == "1"
    assert calls(sim, "bad") == 1  # the second instance never sent it anything
    stored = [i for i in gateway_table.items() if i["pk"].startswith("COOLDOWN#")]
    assert [i["pk"] for i in stored] == ["COOLDOWN#bad"]
    assert stored[0]["until"] > time.time() + 25


async def test_usage_based_routing_shares_counts_between_instances(
    configure: Any, sim: SimulatorApp, gateway_table: Any
) -> None:
    from gateway.http.app import create_app

    model_list = [openai("g", "a", base(sim), rpm=3), openai("g", "b", base(sim), rpm=3)]
    apps = [configure(model_list, routing_strategy="usage-based-routing"), create_app()]
    for app in apps:
        shared_router(app, cache_s=0.0)
    clients = [asgi_client(app) for app in apps]
    for i in range(6):
        response = await clients[i % 2].post("/v1/chat/completions", json=chat("g"), headers=AUTH)
        assert response.status_code == 200
    for client in clients:
        await client.aclose()
    assert (calls(sim, "a"), calls(sim, "b")) == (3, 3)
    usage = {i["pk"]: i for i in gateway_table.items() if i["pk"].startswith("USAGE#")}
    assert usage["USAGE#a"]["requests"] == 3
    assert usage["USAGE#a"]["leases"] == {}  # every request's lease given back


async def test_the_retry_policy_sets_retries_per_failure_kind(
    configure: Any, sim: SimulatorApp
) -> None:
    app = configure(
        [openai("g", "only", base(sim, "429,retry_after=0"))],
        num_retries=3,
        retry_policy={"RateLimitErrorRetries": 1},
    )
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=chat("g"), headers=AUTH)
    assert response.status_code == 429
    assert response.headers["x-gateway-attempts"] == "2"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fallbacks", "b"),
        ("fallbacks", [1]),
        ("num_retries", -1),
        ("num_retries", "2"),
        ("num_retries", 11),
    ],
)
async def test_bad_routing_fields_are_400_and_call_nothing(
    configure: Any, sim: SimulatorApp, field: str, value: Any
) -> None:
    app = configure([openai("g", "only", base(sim))])
    async with asgi_client(app) as client:
        response = await client.post(
            "/v1/chat/completions", json=chat("g", **{field: value}), headers=AUTH
        )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == field
    assert sim.requests == []
