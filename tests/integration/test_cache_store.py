"""The response cache's S3 storage against the AWS emulation (moto's server).

moto enforces S3's conditional writes (If-None-Match, If-Match) and never runs lifecycle
rules, so expired entries stay present here as they do in S3 until the lifecycle catches
up. S3 faults are injected on the store's own boto3 client: a `before-send` hook answers
for S3 (the real error XML, parsed and retried by botocore as S3's would be), or the
endpoint is a closed port or a server that never answers.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import orjson
import pytest

from gateway.cache import store
from gateway.cache.keys import CacheKey
from gateway.cache.settings import MAX_TTL_S
from gateway.cache.store import ResponseCache

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from gateway.local.emulation import Emulation

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0
KEY = CacheKey(id=hashlib.sha256(b"request").hexdigest(), namespace="team:t-1")
BODY = {"object": "chat.completion", "choices": [{"message": {"content": "Hi"}}]}


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Bucket:
    name: str
    client: Any  # a plain boto3 client on the emulation, for arranging and inspecting
    clock: Clock = field(default_factory=Clock)

    def cache(self) -> ResponseCache:
        return ResponseCache(self.name, clock=self.clock)

    def head(self, key: CacheKey = KEY) -> dict[str, Any]:
        head: dict[str, Any] = self.client.head_object(Bucket=self.name, Key=key.object_key)
        return head

    def object_keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name)
        return [o["Key"] for o in listed.get("Contents", [])]


def _reset_clients() -> None:
    from gateway import aws
    from gateway.http import dependencies

    dependencies.reset()
    aws.reset()
    store.reset()  # until dependencies.reset() calls it


@pytest.fixture
def bucket(aws_emulation: Emulation, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    """A fresh bucket made from template.yaml's ResponseCacheBucket definition."""
    from gateway.local.provision import create_bucket, load_template

    props = load_template()["Resources"]["ResponseCacheBucket"]["Properties"]
    client = boto3.client("s3", endpoint_url=aws_emulation.url)
    name = create_bucket(client, f"cache-{uuid.uuid4().hex[:12]}", props)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_emulation.url)
    _reset_clients()
    yield Bucket(name, client)
    for key in Bucket(name, client).object_keys():
        client.delete_object(Bucket=name, Key=key)
    client.delete_bucket(Bucket=name)
    _reset_clients()


def _document(key: CacheKey = KEY, **changes: Any) -> dict[str, Any]:
    document = {
        "v": 1,
        "namespace": key.namespace,
        "id": key.id,
        "created_at": T0,
        "expires_at": T0 + 3600,
        "body": BODY,
    }
    return {**document, **changes}


def _write_raw(bucket: Bucket, data: bytes, **meta: str) -> str:
    """An object written past the store, with the store's metadata unless overridden."""
    metadata = {
        "expires-at": repr(T0 + 3600),
        "created-at": repr(T0),
        "sha256": hashlib.sha256(data).hexdigest(),
        "namespace-hash": KEY.namespace_hash,
        **meta,
    }
    metadata = {k: v for k, v in metadata.items() if v}
    put = bucket.client.put_object(
        Bucket=bucket.name, Key=KEY.object_key, Body=data, Metadata=metadata
    )
    etag: str = put["ETag"]
    return etag


# ---- entries ------------------------------------------------------------------------------


async def test_an_entry_round_trips_as_gzip_json_with_its_metadata(bucket: Bucket) -> None:
    cache = bucket.cache()
    assert await cache.put(KEY, BODY, ttl_s=3600) is True

    found = await cache.get(KEY)
    assert found.status == "hit"
    assert found.entry is not None
    assert found.entry.body == BODY
    assert (found.entry.created_at, found.entry.expires_at) == (T0, T0 + 3600)
    head = bucket.head()
    assert found.entry.etag == found.etag == head["ETag"]

    assert head["ContentType"] == "application/json"
    assert head["ContentEncoding"] == "gzip"
    raw = bucket.client.get_object(Bucket=bucket.name, Key=KEY.object_key)["Body"].read()
    assert head["Metadata"] == {
        "expires-at": repr(T0 + 3600),
        "created-at": repr(T0),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "namespace-hash": hashlib.sha256(KEY.namespace.encode()).hexdigest()[:32],
    }
    assert orjson.loads(gzip.decompress(raw)) == _document()
    assert KEY.object_key.startswith("v1/")  # the prefix IAM and the lifecycle rule name


async def test_a_missing_entry_is_a_miss(bucket: Bucket) -> None:
    found = await bucket.cache().get(KEY)
    assert (found.status, found.entry, found.etag) == ("miss", None, None)


async def test_an_entry_is_never_found_under_another_namespace(bucket: Bucket) -> None:
    cache = bucket.cache()
    assert await cache.put(KEY, BODY, ttl_s=3600)
    other = CacheKey(id=KEY.id, namespace="team:t-2")
    assert (await cache.get(other)).status == "miss"


async def test_an_expired_entry_is_reported_with_its_etag_and_replaced(bucket: Bucket) -> None:
    cache = bucket.cache()
    assert await cache.put(KEY, BODY, ttl_s=60)
    bucket.clock.now = T0 + 60  # lifecycle has not deleted it: the object is still there

    found = await cache.get(KEY)
    assert (found.status, found.entry) == ("expired", None)
    assert found.etag == bucket.head()["ETag"]
    assert await cache.put(KEY, {"new": 1}, ttl_s=60) is False  # the old object is in the way

    assert await cache.put(KEY, {"new": 1}, ttl_s=60, replace_etag=found.etag) is True
    fresh = await cache.get(KEY)
    assert fresh.status == "hit"
    assert fresh.entry is not None
    assert fresh.entry.body == {"new": 1}
    assert fresh.entry.created_at == T0 + 60
    # Someone else's replacement wins: the same expired etag no longer matches.
    assert await cache.put(KEY, {"late": 1}, ttl_s=60, replace_etag=found.etag) is False
    again = await cache.get(KEY)
    assert again.entry is not None
    assert again.entry.body == {"new": 1}


async def test_replacing_an_entry_the_lifecycle_already_deleted_writes_it(bucket: Bucket) -> None:
    cache = bucket.cache()
    assert await cache.put(KEY, BODY, ttl_s=60)
    bucket.clock.now = T0 + 61
    etag = (await cache.get(KEY)).etag
    bucket.client.delete_object(Bucket=bucket.name, Key=KEY.object_key)

    assert await cache.put(KEY, {"new": 1}, ttl_s=60, replace_etag=etag) is True
    assert (await cache.get(KEY)).status == "hit"


async def test_expiry_is_read_from_the_metadata_and_the_body(bucket: Bucket) -> None:
    # The body says expired, the metadata does not: never served.
    data = gzip.compress(orjson.dumps(_document(expires_at=T0 - 1)))
    _write_raw(bucket, data)
    assert (await bucket.cache().get(KEY)).status == "corrupt"


async def test_concurrent_writers_never_overwrite_each_other(bucket: Bucket) -> None:
    cache = bucket.cache()
    results = await asyncio.gather(*(cache.put(KEY, {"writer": n}, ttl_s=60) for n in range(6)))
    assert sorted(results) == [False] * 5 + [True]
    found = await cache.get(KEY)
    assert found.entry is not None
    assert found.entry.body == {"writer": results.index(True)}


async def test_an_entry_older_than_max_age_is_stale(bucket: Bucket) -> None:
    cache = bucket.cache()
    assert await cache.put(KEY, BODY, ttl_s=3600)
    bucket.clock.now = T0 + 100

    stale = await cache.get(KEY, max_age_s=50)
    assert (stale.status, stale.entry) == ("stale", None)
    assert stale.etag == bucket.head()["ETag"]
    assert (await cache.get(KEY, max_age_s=200)).status == "hit"
    assert (await cache.get(KEY, max_age_s=None)).status == "hit"


async def test_ttl_is_bounded_by_the_lifecycle_and_must_be_positive(bucket: Bucket) -> None:
    cache = bucket.cache()
    assert await cache.put(KEY, BODY, ttl_s=0) is False
    assert await cache.put(KEY, BODY, ttl_s=float("nan")) is False
    assert bucket.object_keys() == []
    assert await cache.put(KEY, BODY, ttl_s=90 * 86_400) is True
    found = await cache.get(KEY)
    assert found.entry is not None
    assert found.entry.expires_at == T0 + MAX_TTL_S


async def test_an_oversized_entry_is_not_written(bucket: Bucket) -> None:
    # Random bytes do not compress: well over 5 MB after gzip.
    big = {"content": base64.b64encode(os.urandom(6 * 1024 * 1024)).decode()}
    cache = bucket.cache()
    assert await cache.put(KEY, big, ttl_s=60) is False
    assert bucket.object_keys() == []
    assert (await cache.get(KEY)).status == "miss"


async def test_an_unserializable_body_is_not_written(bucket: Bucket) -> None:
    assert await bucket.cache().put(KEY, {"when": object()}, ttl_s=60) is False
    assert bucket.object_keys() == []


# ---- corrupt objects ------------------------------------------------------------------------


def _gz(document: dict[str, Any]) -> bytes:
    return gzip.compress(orjson.dumps(document))


OTHER = CacheKey(id=KEY.id, namespace="team:someone-else")
CORRUPT: dict[str, tuple[bytes, dict[str, str]]] = {
    "not gzip": (b'{"v": 1}', {}),
    "truncated, checksum of the truncated bytes": (_gz(_document())[:-12], {}),
    "truncated, checksum of the whole": (
        _gz(_document())[:-12],
        {"sha256": hashlib.sha256(_gz(_document())).hexdigest()},
    ),
    "checksum mismatch": (_gz(_document()), {"sha256": "0" * 64}),
    "no checksum": (_gz(_document()), {"sha256": ""}),
    "another namespace's body": (_gz(_document(OTHER)), {}),
    "another namespace's metadata": (
        _gz(_document()),
        {"namespace-hash": OTHER.namespace_hash},
    ),
    "another id's body": (_gz(_document(CacheKey(id="f" * 64, namespace=KEY.namespace))), {}),
    "wrong version": (_gz(_document(v=2)), {}),
    "not an object": (gzip.compress(b"[1, 2]"), {}),
    "not JSON": (gzip.compress(b"{nope"), {}),
    "no body": (_gz({**_document(), "body": "text"}), {}),
    "metadata times disagree": (_gz(_document(created_at=T0 - 5)), {}),
    "unreadable expiry": (_gz(_document()), {"expires-at": "soon"}),
    "no expiry": (_gz(_document()), {"expires-at": ""}),
    "infinite expiry": (_gz(_document(expires_at=float("inf"))), {"expires-at": "inf"}),
    "trailing bytes": (_gz(_document()) + b"junk", {}),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
async def test_a_corrupt_object_is_never_served(
    bucket: Bucket, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    data, meta = CORRUPT[case]
    etag = _write_raw(bucket, data, **meta)
    cache = bucket.cache()

    with caplog.at_level(logging.WARNING, logger="gateway.cache.store"):
        found = await cache.get(KEY)
    assert (found.status, found.entry) == ("corrupt", None)
    assert found.etag == etag  # so the cache layer can write a good entry over it
    assert any(KEY.id in r.getMessage() and "corrupt" in r.getMessage() for r in caplog.records)

    assert await cache.put(KEY, BODY, ttl_s=60, replace_etag=found.etag) is True
    assert (await cache.get(KEY)).status == "hit"


async def test_an_object_that_inflates_past_the_limit_is_corrupt(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "MAX_DOCUMENT_BYTES", 4096)
    _write_raw(bucket, _gz(_document(body={"pad": " " * 100_000})))
    assert (await bucket.cache().get(KEY)).status == "corrupt"


# ---- S3 failing -----------------------------------------------------------------------------


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
        headers = {"Content-Type": "application/xml", "Content-Length": str(len(xml))}
        return AWSResponse(request.url, status, headers, _Raw(xml))

    return answer


@pytest.mark.parametrize(
    ("status", "code"), [(503, "SlowDown"), (500, "InternalError"), (400, "InvalidRequest")]
)
async def test_s3_errors_are_reported_never_raised(bucket: Bucket, status: int, code: str) -> None:
    calls: list[str] = []
    store.client().meta.events.register("before-send.s3", _s3_answers(status, code, calls))
    cache = bucket.cache()

    started = time.monotonic()
    found = await cache.get(KEY)
    assert (found.status, found.entry) == ("error", None)
    assert await cache.put(KEY, BODY, ttl_s=60) is False
    assert time.monotonic() - started < 3
    # One retry of what S3 asks to retry (throttling, 5xx), none of a bad request.
    assert calls == (["GET", "GET", "PUT", "PUT"] if status >= 500 else ["GET", "PUT"])


async def test_access_denied_on_read_is_a_miss(bucket: Bucket) -> None:
    # The function may not s3:ListBucket, so S3 answers a missing object with 403.
    calls: list[str] = []
    store.client().meta.events.register("before-send.s3", _s3_answers(403, "AccessDenied", calls))
    found = await bucket.cache().get(KEY)
    assert (found.status, found.entry) == ("miss", None)
    # ... but a write refused is an error (logged), never a quiet success.
    assert await bucket.cache().put(KEY, BODY, ttl_s=60) is False


async def test_an_exception_in_the_client_is_reported_never_raised(bucket: Bucket) -> None:
    def explode(**_: Any) -> None:
        raise RuntimeError("boom")

    store.client().meta.events.register("before-send.s3", explode)
    assert (await bucket.cache().get(KEY)).status == "error"
    assert await bucket.cache().put(KEY, BODY, ttl_s=60) is False


async def test_unreachable_s3_is_an_error_at_once(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port nobody listens on: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    _reset_clients()
    cache = bucket.cache()

    started = time.monotonic()
    assert (await cache.get(KEY)).status == "error"
    assert await cache.put(KEY, BODY, ttl_s=60) is False
    assert time.monotonic() - started < 3


async def test_a_silent_s3_is_given_up_on_at_the_deadline(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # accepts connections (the kernel does) and never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{sock.getsockname()[1]}")
        _reset_clients()
        cache = bucket.cache()

        started = time.monotonic()
        assert (await cache.get(KEY)).status == "error"
        waited = time.monotonic() - started
        assert store.DEADLINE_S <= waited < 3
        started = time.monotonic()
        assert await cache.put(KEY, BODY, ttl_s=60) is False
        assert time.monotonic() - started < 3


# ---- the bucket as the template defines it ----------------------------------------------------


def test_the_emulated_bucket_has_the_templates_lifecycle_and_access_block(bucket: Bucket) -> None:
    rules = bucket.client.get_bucket_lifecycle_configuration(Bucket=bucket.name)["Rules"]
    expiry = [r for r in rules if "Expiration" in r]
    assert [(r["Filter"], r["Expiration"]) for r in expiry] == [
        ({"Prefix": "v1/"}, {"Days": MAX_TTL_S // 86_400})
    ]
    assert any(r.get("AbortIncompleteMultipartUpload") for r in rules)
    block = bucket.client.get_public_access_block(Bucket=bucket.name)
    assert all(block["PublicAccessBlockConfiguration"].values())
