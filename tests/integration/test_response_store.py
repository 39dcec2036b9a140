"""Stored Responses API responses against the AWS emulation (moto's server).

moto never runs lifecycle rules, so an expired record stays present here as it does in S3
until the lifecycle catches up: expiry must be the store's own check. S3 faults are
injected on the store's boto3 client with a `before-send` hook (the real error XML,
parsed and retried by botocore as S3's would be), or the endpoint is a server that never
answers. Each "Lambda instance" is a ResponseStore on a boto3 session of its own.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import orjson
import pytest

from gateway.config import ConfigError, settings
from gateway.errors import GatewayError
from gateway.http.auth import MASTER, Caller
from gateway.responses import store
from gateway.responses.store import (
    ResponseStore,
    ResponseStoreUnavailableError,
    StoredResponse,
    StoredResponseTooLargeError,
    object_key,
    response_store,
    scope_of,
)
from gateway.schemas.records import KeyRecord, TeamRecord
from gateway.store.directory import Identity

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from conftest import ResponseBucket

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0
TTL_S = 3600.0
SCOPE = "team:t-1"
OTHER_SCOPE = "team:t-2"
RID = "resp_0123456789abcdef0123456789abcdef"
HISTORY = [
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
    {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Hello!"}],
    },
]
INPUT = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Why?"}]}]
OUTPUT = [
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Because.", "annotations": []}],
    }
]


def _response(response_id: str = RID, **changes: Any) -> dict[str, Any]:
    response = {
        "id": response_id,
        "object": "response",
        "created_at": int(T0),
        "status": "completed",
        "model": "gpt-4o-mini",
        "output": OUTPUT,
        "previous_response_id": "resp_earlier",
        "store": True,
    }
    return {**response, **changes}


RECORD = StoredResponse(_response(), INPUT, HISTORY)


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def responses(response_bucket: ResponseBucket, clock: Clock) -> ResponseStore:
    return ResponseStore(response_bucket.name, ttl_s=TTL_S, clock=clock)


def _instance(bucket: ResponseBucket, clock: Clock) -> ResponseStore:
    """A store as another Lambda instance has it: its own session, client and memory."""
    s3 = boto3.Session().client("s3", endpoint_url=bucket.client.meta.endpoint_url)
    return ResponseStore(bucket.name, ttl_s=TTL_S, clock=clock, s3=s3)


# ---- records ------------------------------------------------------------------------------


async def test_a_record_round_trips_as_gzip_json_with_its_metadata(
    responses: ResponseStore, response_bucket: ResponseBucket
) -> None:
    await responses.put(SCOPE, RECORD)

    assert await responses.get(SCOPE, RID) == RECORD
    key = f"v1/{hashlib.sha256(SCOPE.encode()).hexdigest()[:32]}/{RID}"
    assert response_bucket.object_keys() == [key] == [object_key(SCOPE, RID)]
    stored = response_bucket.client.get_object(Bucket=response_bucket.name, Key=key)
    data = stored["Body"].read()
    assert stored["ContentEncoding"] == "gzip"
    assert stored["Metadata"] == {
        "expires-at": repr(T0 + TTL_S),
        "created-at": repr(T0),
        "sha256": hashlib.sha256(data).hexdigest(),
        "scope-hash": key.split("/")[1],
    }
    assert orjson.loads(gzip.decompress(data)) == {
        "v": 1,
        "id": RID,
        "scope": SCOPE,
        "created_at": T0,
        "expires_at": T0 + TTL_S,
        "model": "gpt-4o-mini",
        "response": RECORD.response,
        "input_items": INPUT,
        "history": HISTORY,
    }
    assert "t-1" not in key  # the scope is only ever hashed into a key


def test_the_conversation_is_history_then_input_then_output() -> None:
    assert RECORD.conversation() == [*HISTORY, *INPUT, *OUTPUT]
    no_output = StoredResponse(_response(output=None), INPUT, [])
    assert no_output.conversation() == INPUT


async def test_a_missing_record_is_none(responses: ResponseStore) -> None:
    assert await responses.get(SCOPE, RID) is None
    assert await responses.delete(SCOPE, RID) is False


async def test_a_put_replaces_the_record_of_the_same_id(responses: ResponseStore) -> None:
    await responses.put(SCOPE, RECORD)
    newer = StoredResponse(_response(status="incomplete"), INPUT, HISTORY)
    await responses.put(SCOPE, newer)
    assert await responses.get(SCOPE, RID) == newer


async def test_another_lambda_instance_reads_a_write_at_once(
    response_bucket: ResponseBucket, clock: Clock
) -> None:
    first, second = _instance(response_bucket, clock), _instance(response_bucket, clock)

    await first.put(SCOPE, RECORD)
    assert await second.get(SCOPE, RID) == RECORD  # no cache anywhere: S3 answers
    assert await second.delete(SCOPE, RID) is True
    assert await first.get(SCOPE, RID) is None


async def test_concurrent_turns_of_many_conversations(responses: ResponseStore) -> None:
    ids = [f"resp_{n:032x}" for n in range(12)]
    records = [StoredResponse(_response(i), [{"n": n}], []) for n, i in enumerate(ids)]

    await asyncio.gather(*(responses.put(SCOPE, r) for r in records))
    found = await asyncio.gather(*(responses.get(SCOPE, i) for i in ids))
    assert found == records


# ---- expiry ------------------------------------------------------------------------------


async def test_a_record_expires_at_read_though_s3_still_holds_it(
    responses: ResponseStore, response_bucket: ResponseBucket, clock: Clock
) -> None:
    await responses.put(SCOPE, RECORD)

    clock.now = T0 + TTL_S - 1
    assert await responses.get(SCOPE, RID) == RECORD
    clock.now = T0 + TTL_S
    assert await responses.get(SCOPE, RID) is None
    assert response_bucket.object_keys() == [object_key(SCOPE, RID)]  # no lifecycle here
    # Deleting it answers as `get` did (not found), and removes it all the same.
    assert await responses.delete(SCOPE, RID) is False
    assert response_bucket.object_keys() == []


async def test_an_expired_record_is_not_downloaded(
    responses: ResponseStore, response_bucket: ResponseBucket, clock: Clock
) -> None:
    await responses.put(SCOPE, RECORD)
    reads: list[int] = []
    original = store.decode
    clock.now = T0 + TTL_S + 1

    def counted(*args: Any) -> StoredResponse:
        reads.append(1)
        return original(*args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store, "decode", counted)
        assert await responses.get(SCOPE, RID) is None
    assert reads == []  # the metadata decided


async def test_the_ttl_comes_from_the_settings_in_days(
    response_bucket: ResponseBucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_STORED_RESPONSE_DAYS", "7")
    settings.cache_clear()
    current = response_store()
    assert (current.bucket, current.ttl_s) == (response_bucket.name, 7 * 86_400)

    started = time.time()
    await current.put(SCOPE, RECORD)
    head = response_bucket.client.head_object(
        Bucket=response_bucket.name, Key=object_key(SCOPE, RID)
    )
    expires_at = float(head["Metadata"]["expires-at"])
    assert started + 7 * 86_400 <= expires_at <= time.time() + 7 * 86_400
    assert await current.get(SCOPE, RID) == RECORD


@pytest.mark.parametrize("days", ["0", "-1", "soon", "inf", "nan"])
def test_the_ttl_setting_must_be_a_positive_number_of_days(
    days: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_STORED_RESPONSE_DAYS", days)
    settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="GATEWAY_STORED_RESPONSE_DAYS"):
            settings()
    finally:
        monkeypatch.delenv("GATEWAY_STORED_RESPONSE_DAYS")
        settings.cache_clear()


def test_the_default_ttl_is_the_templates_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.local.provision import load_template

    monkeypatch.delenv("GATEWAY_STORED_RESPONSE_DAYS", raising=False)
    settings.cache_clear()
    days = load_template()["Parameters"]["StoredResponseDays"]["Default"]
    assert settings().stored_response_ttl_s == days * 86_400
    settings.cache_clear()


# ---- tenants -------------------------------------------------------------------------------


def _caller(key_id: str = "k-1", team_id: str | None = None, token: str = "a" * 64) -> Caller:
    key = KeyRecord(token=token, key_id=key_id, team_id=team_id)
    team = TeamRecord(team_id=team_id) if team_id else None
    return Caller(identity=Identity(key=key, team=team, user=None))


def test_the_scope_is_the_team_else_the_key_else_the_master_key() -> None:
    assert scope_of(MASTER) == "master"
    assert scope_of(_caller(team_id="t-1")) == "team:t-1"
    assert scope_of(_caller(key_id="k-2", team_id="t-1")) == "team:t-1"  # a team shares
    assert scope_of(_caller(key_id="k-1")) == "key:k-1"  # survives rotation (same key_id)
    assert scope_of(_caller(key_id="", token="b" * 64)) == f"key:{'b' * 64}"  # the hash
    scopes = {scope_of(c) for c in (MASTER, _caller(team_id="k-1"), _caller(key_id="k-1"))}
    assert len(scopes) == 3  # a team and a key of the same id never share


async def test_another_scope_finds_nothing_and_deletes_nothing(
    responses: ResponseStore, response_bucket: ResponseBucket
) -> None:
    await responses.put(SCOPE, RECORD)

    for other in (OTHER_SCOPE, "key:t-1", "master"):
        assert object_key(other, RID) != object_key(SCOPE, RID)
        assert await responses.get(other, RID) is None
        assert await responses.delete(other, RID) is False
    assert response_bucket.object_keys() == [object_key(SCOPE, RID)]
    assert await responses.get(SCOPE, RID) == RECORD


# ---- delete ---------------------------------------------------------------------------------


async def test_delete_removes_the_record_once(
    responses: ResponseStore, response_bucket: ResponseBucket
) -> None:
    await responses.put(SCOPE, RECORD)

    assert await responses.delete(SCOPE, RID) is True
    assert await responses.get(SCOPE, RID) is None
    assert await responses.delete(SCOPE, RID) is False  # idempotent
    assert response_bucket.object_keys() == []


async def test_a_later_turn_outlives_the_deletion_of_an_earlier_one(
    responses: ResponseStore,
) -> None:
    first = StoredResponse(_response("resp_first"), HISTORY[:1], [])
    await responses.put(SCOPE, first)
    second = StoredResponse(_response(RID), INPUT, first.conversation())
    await responses.put(SCOPE, second)

    assert await responses.delete(SCOPE, "resp_first") is True
    found = await responses.get(SCOPE, RID)
    assert found is not None
    assert found.conversation() == [*HISTORY[:1], *OUTPUT, *INPUT, *OUTPUT]


# ---- malformed ids ---------------------------------------------------------------------------

MALFORMED = [
    "",
    "resp_",
    "resp_../other",
    "resp_a/b",
    "resp_a b",
    "resp_a\n",
    "msg_0123",
    "RESP_abc",
    "resp_" + "a" * 129,
    "resp_é",
    "../v1/resp_a",
]


def _counting_calls() -> list[str]:
    calls: list[str] = []

    def count(request: Any, **_: Any) -> None:
        calls.append(request.method)

    store.client().meta.events.register("before-send.s3", count)
    return calls


@pytest.mark.parametrize("response_id", MALFORMED)
async def test_a_malformed_id_is_not_found_without_asking_s3(
    responses: ResponseStore, response_id: str
) -> None:
    calls = _counting_calls()
    assert await responses.get(SCOPE, response_id) is None
    assert await responses.delete(SCOPE, response_id) is False
    assert calls == []
    with pytest.raises(ValueError, match="resp_"):
        await responses.put(SCOPE, StoredResponse(_response(response_id), INPUT, []))


async def test_the_longest_id_is_valid(responses: ResponseStore) -> None:
    longest = "resp_" + "a-_Z9" * 25 + "abc"
    assert len(longest) == 5 + 128
    record = StoredResponse(_response(longest), INPUT, [])
    await responses.put(SCOPE, record)
    assert await responses.get(SCOPE, longest) == record


async def test_an_empty_scope_is_refused(responses: ResponseStore) -> None:
    assert await responses.get("", RID) is None
    with pytest.raises(ValueError, match="scope"):
        await responses.put("", RECORD)


# ---- size ----------------------------------------------------------------------------------


async def test_a_conversation_over_the_limit_is_refused(
    responses: ResponseStore, response_bucket: ResponseBucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "MAX_DOCUMENT_BYTES", 4096)
    big = StoredResponse(_response(), [{"type": "input_text", "text": "x" * 5000}], [])

    with pytest.raises(StoredResponseTooLargeError) as raised:
        await responses.put(SCOPE, big)
    assert raised.value.status == 413
    assert response_bucket.object_keys() == []
    await responses.put(SCOPE, RECORD)  # a small one still goes


async def test_an_unserializable_record_is_an_internal_error(responses: ResponseStore) -> None:
    bad = StoredResponse(_response(), [{"type": "input_text", "text": object()}], [])
    with pytest.raises(GatewayError) as raised:
        await responses.put(SCOPE, bad)
    assert raised.value.status == 500


# ---- corrupt objects -----------------------------------------------------------------------


def _document(**changes: Any) -> dict[str, Any]:
    document = {
        "v": 1,
        "id": RID,
        "scope": SCOPE,
        "created_at": T0,
        "expires_at": T0 + TTL_S,
        "model": "gpt-4o-mini",
        "response": RECORD.response,
        "input_items": INPUT,
        "history": HISTORY,
    }
    return {**document, **changes}


def _gz(document: object) -> bytes:
    return gzip.compress(orjson.dumps(document))


def _write_raw(bucket: ResponseBucket, data: bytes, **meta: str) -> None:
    """An object written past the store, with the store's metadata unless overridden."""
    metadata = {
        "expires-at": repr(T0 + TTL_S),
        "created-at": repr(T0),
        "sha256": hashlib.sha256(data).hexdigest(),
        "scope-hash": store.scope_hash(SCOPE),
        **meta,
    }
    metadata = {k: v for k, v in metadata.items() if v}
    bucket.client.put_object(
        Bucket=bucket.name, Key=object_key(SCOPE, RID), Body=data, Metadata=metadata
    )


CORRUPT: dict[str, tuple[bytes, dict[str, str]]] = {
    "not gzip": (b'{"v": 1}', {}),
    "truncated": (_gz(_document())[:-12], {}),
    "checksum mismatch": (_gz(_document()), {"sha256": "0" * 64}),
    "no checksum": (_gz(_document()), {"sha256": ""}),
    "another scope's body": (_gz(_document(scope=OTHER_SCOPE)), {}),
    "another scope's metadata": (
        _gz(_document()),
        {"scope-hash": store.scope_hash(OTHER_SCOPE)},
    ),
    "another id's body": (_gz(_document(id="resp_other")), {}),
    "another id's response": (_gz(_document(response=_response("resp_other"))), {}),
    "wrong version": (_gz(_document(v=2)), {}),
    "not an object": (gzip.compress(b"[1, 2]"), {}),
    "not JSON": (gzip.compress(b"{nope"), {}),
    "no response": (_gz(_document(response="text")), {}),
    "items not a list": (_gz(_document(input_items={"a": 1})), {}),
    "history of strings": (_gz(_document(history=["a"])), {}),
    "metadata times disagree": (_gz(_document(created_at=T0 - 5)), {}),
    "unreadable expiry": (_gz(_document()), {"expires-at": "soon"}),
    "no expiry": (_gz(_document()), {"expires-at": ""}),
    "trailing bytes": (_gz(_document()) + b"junk", {}),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
async def test_a_corrupt_object_is_never_served(
    responses: ResponseStore,
    response_bucket: ResponseBucket,
    case: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data, meta = CORRUPT[case]
    _write_raw(response_bucket, data, **meta)

    with caplog.at_level(logging.WARNING, logger="gateway.responses.store"):
        assert await responses.get(SCOPE, RID) is None
    assert any(RID in r.getMessage() and "corrupt" in r.getMessage() for r in caplog.records)
    assert not any(SCOPE in r.getMessage() for r in caplog.records)  # no tenant in logs

    await responses.put(SCOPE, RECORD)  # a good record replaces it
    assert await responses.get(SCOPE, RID) == RECORD


async def test_a_well_formed_object_written_past_the_store_is_read(
    responses: ResponseStore, response_bucket: ResponseBucket
) -> None:
    _write_raw(response_bucket, _gz(_document()))  # the CORRUPT cases' baseline
    assert await responses.get(SCOPE, RID) == RECORD


async def test_an_object_that_inflates_past_the_limit_is_corrupt(
    responses: ResponseStore, response_bucket: ResponseBucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "MAX_DOCUMENT_BYTES", 4096)
    _write_raw(response_bucket, _gz(_document(history=[{"pad": " " * 100_000}])))
    assert await responses.get(SCOPE, RID) is None


# ---- S3 failing ----------------------------------------------------------------------------


class _Raw:
    """What botocore reads an HTTP response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _s3_answers(status: int, code: str, calls: list[str]) -> Callable[..., Any]:
    from botocore.awsrequest import AWSResponse

    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
    ).encode()

    def answer(request: Any, **_: Any) -> AWSResponse:
        calls.append(request.method)
        body = b"" if request.method == "HEAD" else xml  # HEAD errors carry no body
        headers = {"Content-Type": "application/xml", "Content-Length": str(len(body))}
        return AWSResponse(request.url, status, headers, _Raw(body))

    return answer


@pytest.mark.parametrize(
    ("status", "code"), [(503, "SlowDown"), (500, "InternalError"), (400, "InvalidRequest")]
)
async def test_s3_errors_raise_after_one_retry(
    responses: ResponseStore, status: int, code: str
) -> None:
    calls: list[str] = []
    store.client().meta.events.register("before-send.s3", _s3_answers(status, code, calls))
    attempts = 2 if status >= 500 else 1  # one retry of what S3 asks to retry, none else

    for call in (
        responses.put(SCOPE, RECORD),
        responses.get(SCOPE, RID),
        responses.delete(SCOPE, RID),
    ):
        with pytest.raises(ResponseStoreUnavailableError) as raised:
            await call
        assert raised.value.status == 503
        assert raised.value.headers == {"retry-after": "2"}
        assert "injected" not in raised.value.message
    assert calls[: 2 * attempts] == ["PUT"] * attempts + ["GET"] * attempts
    # botocore sends a HEAD that got 400 once more (its S3 region redirector's check).
    assert calls[2 * attempts :] == ["HEAD"] * 2


async def test_access_denied_on_read_is_absent_but_a_refused_write_raises(
    responses: ResponseStore,
) -> None:
    # The function may not s3:ListBucket, so S3 answers a missing object with 403.
    calls: list[str] = []
    store.client().meta.events.register("before-send.s3", _s3_answers(403, "AccessDenied", calls))
    assert await responses.get(SCOPE, RID) is None
    assert await responses.delete(SCOPE, RID) is False
    with pytest.raises(ResponseStoreUnavailableError):
        await responses.put(SCOPE, RECORD)


async def test_a_failed_delete_after_the_check_raises(
    responses: ResponseStore, response_bucket: ResponseBucket
) -> None:
    await responses.put(SCOPE, RECORD)
    calls: list[str] = []
    answer = _s3_answers(500, "InternalError", calls)

    def only_delete(request: Any, **kwargs: Any) -> Any:
        return answer(request, **kwargs) if request.method == "DELETE" else None

    store.client().meta.events.register("before-send.s3", only_delete)
    with pytest.raises(ResponseStoreUnavailableError):
        await responses.delete(SCOPE, RID)
    assert response_bucket.object_keys() == [object_key(SCOPE, RID)]


async def test_an_exception_in_the_client_raises_unavailable(responses: ResponseStore) -> None:
    def explode(**_: Any) -> None:
        raise RuntimeError("boom")

    store.client().meta.events.register("before-send.s3", explode)
    with pytest.raises(ResponseStoreUnavailableError):
        await responses.get(SCOPE, RID)
    with pytest.raises(ResponseStoreUnavailableError):
        await responses.put(SCOPE, RECORD)


async def test_a_silent_s3_is_given_up_on_at_the_deadline(
    response_bucket: ResponseBucket, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "DEADLINE_S", 0.5)
    with socket.socket() as sock:  # accepts connections (the kernel does) and never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sock.getsockname()[1]}")
        silent = ResponseStore(response_bucket.name, ttl_s=TTL_S, clock=clock, s3=s3)

        started = time.monotonic()
        with pytest.raises(ResponseStoreUnavailableError):
            await silent.get(SCOPE, RID)
        assert 0.5 <= time.monotonic() - started < 2
        started = time.monotonic()
        with pytest.raises(ResponseStoreUnavailableError):
            await silent.put(SCOPE, RECORD)
        assert time.monotonic() - started < 2


async def test_the_client_has_tight_timeouts_and_one_retry(response_bucket: ResponseBucket) -> None:
    config = store.client().meta.config
    assert (config.connect_timeout, config.read_timeout) == (2.0, 5.0)
    assert config.retries["total_max_attempts"] == 2
    assert store.client() is store.client()
    from gateway import aws

    aws.reset()  # a new session (tests, SnapStart restore): a new client, no hook needed
    assert store.client().meta.endpoint_url == response_bucket.client.meta.endpoint_url


# ---- the accessor and the bucket ----------------------------------------------------------


async def test_the_app_store_is_the_stacks_bucket(response_bucket: ResponseBucket) -> None:
    await response_store().put(SCOPE, RECORD)
    assert await response_store().get(SCOPE, RID) == RECORD
    assert response_bucket.object_keys() == [object_key(SCOPE, RID)]


def test_without_a_bucket_the_store_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_RESPONSE_STORE_BUCKET", raising=False)
    settings.cache_clear()
    with pytest.raises(ResponseStoreUnavailableError) as raised:
        response_store()
    assert raised.value.code == "response_store_not_configured"
    settings.cache_clear()


def test_the_emulated_bucket_has_the_templates_lifecycle_and_access_block(
    response_bucket: ResponseBucket,
) -> None:
    client, name = response_bucket.client, response_bucket.name
    rules = client.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    expiry = [r for r in rules if "Expiration" in r]
    days = settings().stored_response_ttl_s / 86_400
    assert [(r["Filter"], r["Expiration"]) for r in expiry] == [
        ({"Prefix": store.PREFIX}, {"Days": days})
    ]
    assert any(r.get("AbortIncompleteMultipartUpload") for r in rules)
    block = client.get_public_access_block(Bucket=name)
    assert all(block["PublicAccessBlockConfiguration"].values())
    assert "Status" not in client.get_bucket_versioning(Bucket=name)  # a delete deletes
