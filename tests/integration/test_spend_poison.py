"""No caller input loses spend or poisons the spend pipeline (gateway/schemas/bounds.py,
gateway/spend/events.py, gateway/billing/apply.py, gateway/billing/emit.py).

- Over-long caller strings are a 400 at the door on every inference route, before
  admission: nothing is reserved, written or sent.
- An event is bounded however it was built: the largest one fits SQS and DynamoDB and
  is charged.
- An event DynamoDB refuses fails alone: the others of its packed transaction are charged
  once, and only its message is reported (it goes on to the dead-letter queue).
- An event that can never be delivered is dropped (logged with its request id), not kept
  and retried after every later request.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from test_spend_apply import (
    RecordingDynamo,
    assert_counted_once,
    items_by_prefix,
    spend,
    team_hold,
)
from test_spend_function import failures, sqs_event

from gateway.billing.apply import Applier, UnchargeableEventError
from gateway.billing.consumer import handle
from gateway.billing.emit import SpendEmitter
from gateway.billing.ledger import ledger_item
from gateway.spend.events import Hold, SpendEvent
from gateway.store.dynamo import Dynamo, encode_item
from keys import asgi_client, bearer, chat, make_key
from spend_helpers import drain, ledger

if TYPE_CHECKING:
    from conftest import GatewayTable

pytestmark = pytest.mark.anyio

SQS_MAX_BYTES = 256 * 1024
ITEM_MAX_BYTES = 400 * 1000
TEXT = "hello"


def unbounded(event: SpendEvent, **fields: Any) -> SpendEvent:
    """`event` with fields past its bounds, as a bug before the bounds would make it."""
    for name, value in fields.items():
        object.__setattr__(event, name, value)
    return event


# ---- the door ----------------------------------------------------------------------------

ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", chat("metered", TEXT, max_tokens=5)),
    "messages": (
        "/v1/messages",
        {"model": "metered", "max_tokens": 5, "messages": [{"role": "user", "content": TEXT}]},
    ),
    "responses": ("/v1/responses", {"model": "metered", "input": TEXT, "max_output_tokens": 16}),
    "embeddings": ("/v1/embeddings", {"model": "metered", "input": TEXT}),
    "completions": ("/v1/completions", {"model": "metered", "prompt": TEXT, "max_tokens": 5}),
    "rerank": ("/v1/rerank", {"model": "metered", "query": TEXT, "documents": ["a", "b"]}),
}


def _long(route: str, case: str) -> tuple[dict[str, Any], str]:
    """The route's body with one caller string over its limit; the param the 400 names."""
    body = dict(ROUTES[route][1])
    if case == "model":
        return {**body, "model": "m" * 300_000}, "model"
    if case == "user":
        if route == "messages":  # Anthropic's end user
            return {**body, "metadata": {"user_id": "u" * 900_000}}, "metadata.user_id"
        return {**body, "user": "u" * 900_000}, "user"
    if case == "tag":
        return {**body, "metadata": {"tags": ["ok", "t" * 129]}}, "metadata.tags"
    if case == "metadata value":
        return {**body, "metadata": {"note": "v" * 513}}, "metadata.note"
    if case == "metadata key":
        return {**body, "metadata": {"k" * 65: "v"}}, "metadata"
    assert case == "metadata pairs"
    return {**body, "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"


@pytest.mark.parametrize(
    "case", ["model", "user", "tag", "metadata value", "metadata key", "metadata pairs"]
)
@pytest.mark.parametrize("route", list(ROUTES))
async def test_an_over_long_caller_string_is_a_400_that_changes_nothing(
    spend_env: GatewayTable, route: str, case: str
) -> None:
    from gateway.http.app import create_app

    if route == "responses" and case == "tag":
        pytest.skip("the Responses API's metadata is OpenAI's (string values): no spend tags")
    key = make_key(spend_env, max_budget_micros=1_000_000)
    before = spend_env.items()
    body, param = _long(route, case)
    async with asgi_client(create_app()) as client:
        started = time.monotonic()
        response = await client.post(ROUTES[route][0], json=body, headers=bearer(key))
        took = time.monotonic() - started
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    if route != "messages":  # Anthropic's error shape has no param
        assert error["param"] == param
    assert len(response.content) < 2_000  # the string is not echoed back
    assert took < 5
    assert await drain(spend_env) == 0
    assert spend_env.items() == before  # no hold, no limit counter, no ledger item


async def test_strings_at_their_limits_are_served_and_charged(spend_env: GatewayTable) -> None:
    from gateway.http.app import create_app

    key = make_key(spend_env, max_budget_micros=1_000_000)
    metadata = {"tags": ["t" * 128] * 1 + [f"tag-{i}" for i in range(31)]}
    metadata |= {f"k{i}": "v" * 512 for i in range(14)} | {"k" * 64: "é" * 512}
    body = chat("metered", TEXT, max_tokens=5, user="😀" * 256, metadata=metadata)
    async with asgi_client(create_app()) as client:
        response = await client.post("/v1/chat/completions", json=body, headers=bearer(key))
    assert response.status_code == 200, response.text
    assert await drain(spend_env) == 1
    (item,) = ledger(spend_env)
    assert item["request_id"] == response.headers["x-request-id"]
    assert item["end_user"] == "😀" * 256
    assert len(item["tags"]) == 32


# ---- the event's own bounds --------------------------------------------------------------


async def test_the_largest_event_fits_sqs_and_dynamodb_and_is_charged(
    gateway_table: GatewayTable,
) -> None:
    huge = "😀" * 100_000  # 4 bytes a character: every byte bound is reached
    text = dict.fromkeys(
        ("key_alias", "key_name", "end_user", "requested_model", "model", "model_id", "provider"),
        huge,
    )
    event = spend(
        "largest",
        team_id=huge,
        user_id=huge,
        key_id=huge,
        model_group=huge,
        error_code=huge,
        tags=tuple(f"{i}{huge}" for i in range(100)),
        **text,
    )
    assert len(event.tags) == 32
    assert all(len(getattr(event, name).encode()) == 1024 for name in text)
    assert len(event.dumps()) < SQS_MAX_BYTES // 4
    assert len(orjson.dumps(encode_item(ledger_item(event)))) < ITEM_MAX_BYTES // 8
    result = await Applier(Dynamo(gateway_table.name)).apply([event])
    assert result.applied == {"largest"}, result.failed
    assert len(items_by_prefix(gateway_table, "SPEND#")) == 1
    (model,) = items_by_prefix(gateway_table, "SPENDAGG#model#").values()
    assert model["spend_micros"] == event.spend_micros
    rows = items_by_prefix(gateway_table, "SPENDDAY#")
    assert len(rows) == 33  # the team and model row (its key cut to 1024 bytes), 32 tags
    assert all(len(sk.encode()) <= 1024 for _, sk in rows)


def test_an_oversized_body_from_the_queue_is_clipped_and_charged(
    gateway_table: GatewayTable,
) -> None:
    """A message an emitter without bounds sent (as the one this issue was found on)."""
    good = spend("good")
    raw = orjson.loads(spend("oversized").dumps())
    raw |= {"end_user": "u" * 450_000, "requested_model": "r" * 300_000}
    body = orjson.dumps(raw).decode()
    messages = [("m-good", good.dumps().decode()), ("m-oversized", body)]
    response = handle(sqs_event(messages), applier=Applier(Dynamo(gateway_table.name)))
    assert failures(response) == set()
    assert_counted_once(gateway_table, [good, SpendEvent.parse(body)])
    item = items_by_prefix(gateway_table, "SPEND#")["SPEND#oversized", "SPEND"]
    assert item["end_user"] == "u" * 1024


# ---- a poison event fails alone ----------------------------------------------------------


def test_a_poison_event_fails_alone_and_the_rest_of_its_transaction_counts_once(
    gateway_table: GatewayTable,
) -> None:
    """A budget hold whose key DynamoDB refuses (over 2048 bytes) survives the queue's
    parsing; packed with three innocent events, it must not take them down with it."""
    good = [spend(f"r{i}", spend_micros=100 + i) for i in range(3)]
    poison = spend("poison", holds=(team_hold(0, team="t" * 3000),))
    messages = [(f"m{i}", e.dumps().decode()) for i, e in enumerate(good)]
    messages.insert(1, ("m-poison", poison.dumps().decode()))
    db = RecordingDynamo(gateway_table.name)
    response = handle(sqs_event(messages), applier=Applier(db))
    assert len([a for a in db.transactions[0] if "Put" in a]) == 4  # packed together
    assert failures(response) == {"m-poison"}
    assert_counted_once(gateway_table, good)
    again = handle(sqs_event(messages, 2), applier=Applier(Dynamo(gateway_table.name)))
    assert failures(again) == {"m-poison"}
    assert_counted_once(gateway_table, good)  # redelivered: the innocent are duplicates


async def test_an_item_over_400_kb_fails_alone(gateway_table: GatewayTable) -> None:
    good = [spend(f"r{i}") for i in range(3)]
    poison = unbounded(spend("big"), end_user="u" * 450_000)
    result = await Applier(Dynamo(gateway_table.name)).apply([*good, poison])
    assert set(result.failed) == {"big"}
    assert isinstance(result.failed["big"], UnchargeableEventError)
    assert result.applied == {"r0", "r1", "r2"}
    assert_counted_once(gateway_table, good)


# ---- an undeliverable event is not kept ----------------------------------------------------


async def test_an_undeliverable_event_is_dropped_and_later_requests_do_not_retry_it(
    spend_env: GatewayTable, caplog: pytest.LogCaptureFixture
) -> None:
    """SQS refuses a 1.1 MB message and DynamoDB a 1.1 MB item: the event (which only a
    bug could build) is logged and dropped, not retried after every later request."""
    from gateway.http.app import create_app

    key = make_key(spend_env)
    app = create_app()
    async with asgi_client(app) as client:

        async def ask() -> None:
            response = await client.post(
                "/v1/chat/completions", json=chat("metered", TEXT), headers=bearer(key)
            )
            assert response.status_code == 200

        for _ in range(5):
            await ask()
        (_, outbox) = app.state.spend
        await outbox.settle()
        poison = unbounded(spend("poison", start_ms=int(time.time() * 1000)))
        unbounded(poison, requested_model="x" * 1_100_000)
        with caplog.at_level(logging.ERROR, logger="gateway.billing"):
            outbox.put(poison)
            await outbox.settle()
        assert outbox.emitter.pending == collections.deque()
        assert any("poison" in r.getMessage() for r in caplog.records)
        calls = len(spend_env.emulation.calls)
        for _ in range(5):
            await ask()
        await outbox.settle()
    later = spend_env.emulation.calls[calls:]
    # Each request's own event, one by one or batched when they queue up; the poison is
    # never sent again (a retry would be a further send, then a transaction).
    assert 1 <= later.count("SendMessage") + later.count("SendMessageBatch") <= 5
    assert "TransactWriteItems" not in later
    assert await drain(spend_env) == 10
    assert "poison" not in {item["request_id"] for item in ledger(spend_env)}


async def test_an_event_no_json_can_carry_is_dropped(gateway_table: GatewayTable) -> None:
    emitter = SpendEmitter(Dynamo(gateway_table.name), None)
    await emitter.emit(spend("huge-cost", spend_micros=2**70))
    assert emitter.pending == collections.deque()
    await emitter.emit(spend("fine"))
    assert {i["request_id"] for i in items_by_prefix(gateway_table, "SPEND#").values()} == {"fine"}


async def test_a_transient_failure_is_still_kept_and_retried(gateway_table: GatewayTable) -> None:
    emitter = SpendEmitter(Dynamo(gateway_table.name), None)
    gateway_table.emulation.inject("TransactWriteItems", "unavailable")
    await emitter.emit(spend("kept"))
    gateway_table.emulation.faults.clear()
    assert [e.request_id for e in emitter.pending] == ["kept"]
    await emitter.emit(spend("next"))
    assert emitter.pending == collections.deque()
    assert_counted_once(gateway_table, [spend("kept"), spend("next")])


def test_holds_are_not_clipped() -> None:
    """A hold names the budget item admission wrote: clipping it would settle another."""
    hold = Hold("team", "t" * 3000, "all")
    assert spend("r", holds=(hold,)).holds == (hold,)
