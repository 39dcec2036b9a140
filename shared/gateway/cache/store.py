"""The response cache's storage: one gzip-compressed JSON object per entry in S3.

The object at `CacheKey.object_key` (`v1/<sha256(namespace)[:32]>/<id>`) holds
`{"v": 1, "namespace", "id", "created_at", "expires_at", "body"}`, with metadata
`expires-at`, `created-at`, `sha256` (of the stored bytes) and `namespace-hash`.

- Writes are conditional (If-None-Match `*`, or If-Match the ETag of the entry being
  replaced), so concurrent writers never overwrite each other: the first one wins.
- Expiry is checked here, against the metadata and the body: the bucket's lifecycle
  rule deletes old objects lazily, up to days late.
- An object that does not verify (checksum, format, another key's namespace or id)
  is "corrupt": logged, never served, and its ETag returned so it can be replaced.
- Nothing here raises: S3 failing, slow or refusing is a status ("error"), since a cache
  that cannot answer must never fail the request. A call waits at most DEADLINE_S.

Boto3 calls (and the compression around them) run in a worker thread on a client of
their own with tight timeouts. The caller records the lookup in the request's metrics
(gateway/telemetry/metrics.py).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.to_thread
import orjson

from gateway import aws
from gateway.cache.settings import MAX_TTL_S
from gateway.s3docs import CorruptDocumentError, gunzip, number

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from gateway.cache.keys import CacheKey

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MAX_OBJECT_BYTES = 5 * 1024 * 1024  # compressed; larger answers are not cached
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # uncompressed JSON, both ways (a gzip bomb is corrupt)
CONNECT_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 2.0
DEADLINE_S = 2.5  # the longest a request waits for one cache call, retries included
ABSENT = frozenset({"NoSuchKey", "404", "AccessDenied"})  # AccessDenied: no s3:ListBucket
LOST_RACE = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})

LookupStatus = Literal["hit", "miss", "expired", "stale", "corrupt", "error"]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    body: dict[str, Any]  # what the cache layer stored; opaque here
    created_at: float  # epoch seconds
    expires_at: float  # epoch seconds
    etag: str | None = None  # of the object read


@dataclass(frozen=True, slots=True)
class Lookup:
    """`entry` is set only on a hit; `etag` names an expired, stale or corrupt object,
    for `put(..., replace_etag=...)` (a plain put would lose to the object in the way)."""

    entry: CacheEntry | None
    status: LookupStatus
    etag: str | None = None


_lock = threading.Lock()


@functools.cache
def client() -> Any:
    """The S3 client of the cache: 1 s to connect, 2 s per read, one retry."""
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": 2},  # the first try and one retry
    )
    with _lock:  # a boto3 session is not safe to make clients from two threads at once
        return aws.session().client("s3", config=config)


def reset() -> None:
    client.cache_clear()


def encode(
    key: CacheKey, body: dict[str, Any], created_at: float, expires_at: float
) -> bytes | None:
    """The object's bytes; None when the entry is too large to cache."""
    document = {
        "v": FORMAT_VERSION,
        "namespace": key.namespace,
        "id": key.id,
        "created_at": created_at,
        "expires_at": expires_at,
        "body": body,
    }
    raw = orjson.dumps(document)
    if len(raw) > MAX_DOCUMENT_BYTES:
        return None
    data = gzip.compress(raw, compresslevel=6, mtime=0)
    return data if len(data) <= MAX_OBJECT_BYTES else None


def metadata(key: CacheKey, data: bytes, created_at: float, expires_at: float) -> dict[str, str]:
    return {
        "expires-at": repr(expires_at),
        "created-at": repr(created_at),
        "sha256": hashlib.sha256(data).hexdigest(),
        "namespace-hash": key.namespace_hash,
    }


def _document(key: CacheKey, data: bytes, meta: Mapping[str, str]) -> dict[str, Any]:
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise CorruptDocumentError("sha256 mismatch")
    if meta.get("namespace-hash") != key.namespace_hash:
        raise CorruptDocumentError("another namespace's metadata")
    try:
        document = orjson.loads(gunzip(data, MAX_DOCUMENT_BYTES))
    except orjson.JSONDecodeError:
        raise CorruptDocumentError("not JSON") from None
    if not isinstance(document, dict) or document.get("v") != FORMAT_VERSION:
        raise CorruptDocumentError("unknown format version")
    # The object key already hashes the namespace; this is the check that an object
    # under it can never be served to another namespace, whatever wrote it.
    if document.get("namespace") != key.namespace or document.get("id") != key.id:
        raise CorruptDocumentError("another key's entry")
    if not isinstance(document.get("body"), dict):
        raise CorruptDocumentError("no body")
    return document


def decode(
    key: CacheKey,
    data: bytes,
    meta: Mapping[str, str],
    etag: str | None,
    now: float,
    max_age_s: float | None = None,
) -> Lookup:
    """The lookup an object's bytes and metadata make (raises CorruptDocumentError)."""
    expires_at = number(meta.get("expires-at"))
    created_at = number(meta.get("created-at"))
    if now >= expires_at:  # decided before decompressing: an expired entry is not read
        return Lookup(None, "expired", etag)
    document = _document(key, data, meta)
    if (number(document.get("expires_at")), number(document.get("created_at"))) != (
        expires_at,
        created_at,
    ):
        raise CorruptDocumentError("metadata and body disagree")
    if max_age_s is not None and now - created_at > max_age_s:
        return Lookup(None, "stale", etag)
    entry = CacheEntry(document["body"], created_at, expires_at, etag)
    return Lookup(entry, "hit", etag)


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _describe(exc: Exception) -> str:
    """Error class and S3 code: enough to act on, nothing from a message or a body."""
    code = _error_code(exc)
    return f"{type(exc).__name__} {code}".strip()


class ResponseCache:
    def __init__(self, bucket: str, *, clock: Callable[[], float] = time.time) -> None:
        self.bucket = bucket
        self._clock = clock

    async def get(self, key: CacheKey, *, max_age_s: float | None = None) -> Lookup:
        """The entry under `key`; never raises (S3 failing or slow: "error")."""
        lookup: Lookup | None = None
        try:
            with anyio.move_on_after(DEADLINE_S):
                lookup = await anyio.to_thread.run_sync(
                    self._read, key, max_age_s, abandon_on_cancel=True
                )
        except Exception as exc:
            logger.warning("response cache read failed for %s: %s", key.id, _describe(exc))
            return Lookup(None, "error")
        if lookup is None:
            logger.warning("response cache read timed out for %s", key.id)
            return Lookup(None, "error")
        return lookup

    async def put(
        self,
        key: CacheKey,
        body: dict[str, Any],
        *,
        ttl_s: float,
        replace_etag: str | None = None,
    ) -> bool:
        """Store `body` under `key` unless another entry is there (or, with
        `replace_etag`, unless that entry changed). True when this write won; never
        raises."""
        if not ttl_s > 0:
            logger.warning("response cache entry %s not stored: ttl %r", key.id, ttl_s)
            return False
        stored: bool | None = None
        try:
            with anyio.move_on_after(DEADLINE_S):
                stored = await anyio.to_thread.run_sync(
                    self._write,
                    key,
                    body,
                    min(ttl_s, MAX_TTL_S),
                    replace_etag,
                    abandon_on_cancel=True,
                )
        except Exception as exc:
            logger.warning("response cache write failed for %s: %s", key.id, _describe(exc))
            return False
        if stored is None:
            logger.warning("response cache write timed out for %s", key.id)
        return bool(stored)

    def _read(self, key: CacheKey, max_age_s: float | None) -> Lookup:
        from botocore.exceptions import ClientError

        try:
            response = client().get_object(Bucket=self.bucket, Key=key.object_key)
        except ClientError as exc:
            if _error_code(exc) in ABSENT:
                return Lookup(None, "miss")
            raise
        etag = response.get("ETag")
        body = response["Body"]
        try:
            if int(response.get("ContentLength") or 0) > MAX_OBJECT_BYTES:
                raise CorruptDocumentError("larger than any entry written")
            data = body.read()
            meta = response.get("Metadata") or {}
            return decode(key, data, meta, etag, self._clock(), max_age_s)
        except CorruptDocumentError as exc:
            logger.warning("response cache entry %s is corrupt (%s); not served", key.id, exc)
            return Lookup(None, "corrupt", etag)
        finally:
            body.close()

    def _write(
        self, key: CacheKey, body: dict[str, Any], ttl_s: float, replace_etag: str | None
    ) -> bool:
        from botocore.exceptions import ClientError

        created_at = self._clock()
        expires_at = created_at + ttl_s
        data = encode(key, body, created_at, expires_at)
        if data is None:
            logger.info("response cache entry %s not stored: too large", key.id)
            return False
        condition = {"IfMatch": replace_etag} if replace_etag else {"IfNoneMatch": "*"}
        try:
            client().put_object(
                Bucket=self.bucket,
                Key=key.object_key,
                Body=data,
                ContentType="application/json",
                ContentEncoding="gzip",
                Metadata=metadata(key, data, created_at, expires_at),
                **condition,
            )
        except ClientError as exc:
            code = _error_code(exc)
            if code in LOST_RACE:  # another writer was first: its entry stands
                return False
            if replace_etag and code == "NoSuchKey":  # the old entry was deleted meanwhile
                return self._write(key, body, ttl_s, None)
            raise
        return True
