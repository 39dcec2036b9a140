"""AdminFunction's Lambda entrypoint fed a real API Gateway REST (payload 1.0) event.

events/key_generate.apigw.json carries the master key that the `gateway_env` fixture
sets; `gateway_table` is the table on the AWS emulation. functions/ is not a package,
so handler.py is loaded by path.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gateway.store.keys import hash_key
from handlers import invoker

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from conftest import GatewayTable

ROOT = Path(__file__).resolve().parents[2]


def _event() -> dict[str, Any]:
    path = ROOT / "events" / "key_generate.apigw.json"
    event: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return event


@pytest.fixture
def invoke(
    gateway_env: object, gateway_table: GatewayTable
) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    with invoker("admin/handler.py", "AdminFunction") as call:
        yield call


def test_the_event_body_matches_its_content_length() -> None:
    event = _event()
    assert int(event["headers"]["Content-Length"]) == len(event["body"].encode())


def test_key_generate_event(
    invoke: Callable[[dict[str, Any]], dict[str, Any]], gateway_table: GatewayTable
) -> None:
    response = invoke(_event())
    assert response["statusCode"] == 200, response["body"]
    assert response["headers"]["content-type"] == "application/json"
    body = json.loads(response["body"])
    assert body["key"].startswith("sk-gw-")
    assert body["token"] == hash_key(body["key"])
    assert (body["key_alias"], body["models"], body["max_budget"]) == (
        "ci-key",
        ["gpt-4o-mini"],
        10,
    )
    items = gateway_table.items()
    assert {i["pk"] for i in items} == {f"KEY#{body['token']}", f"AUDIT#key#{body['token']}"}
    audit = next(i for i in items if i["pk"].startswith("AUDIT#"))
    assert audit["request_id"] == response["headers"]["x-request-id"]
    assert body["key"] not in repr(items)


def test_key_generate_event_without_the_master_key_is_401(
    invoke: Callable[[dict[str, Any]], dict[str, Any]], gateway_table: GatewayTable
) -> None:
    event = copy.deepcopy(_event())
    del event["headers"]["Authorization"]
    del event["multiValueHeaders"]["Authorization"]
    response = invoke(event)
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["code"] == "invalid_api_key"
    assert gateway_table.items() == []
