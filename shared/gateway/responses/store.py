"""Stored responses of the Responses API: one gzip-compressed JSON object per response in S3.

`store: true` keeps a response with its input, so that `previous_response_id`,
`GET/DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items` work on any
instance. The object at `v1/<sha256(scope)[:32]>/<response id>` holds
`{"v": 1, "id", "scope", "created_at", "expires_at", "model", "response",
"input_items", "history"}`, with metadata `expires-at`, `created-at`, `sha256` (of the
stored bytes) and `scope-hash`.

- The scope (`scope_of`) is the caller's team, else its key, else "master". It is hashed
  into the object key, so another tenant computes another key and finds nothing: the
  same None as for an id that never existed, never an existence oracle. A read also
  checks the scope written in the object.
- Each record carries the whole conversation before it (`history`), so a follow-up turn
  is one GetObject, and deleting an earlier response never breaks a later one.
- Expiry is checked here: the bucket's lifecycle rule deletes old objects days late.
- Unlike the response cache, failures are not hidden: S3 failing or slow raises
  ResponseStoreUnavailableError (503), since "absent" would tell a client that its
  conversation is gone. An object that does not verify is logged and treated as absent.
- Documents over MAX_DOCUMENT_BYTES (uncompressed) are refused on write and corrupt on
  read (a gzip bomb never inflates past it).
- Nothing is cached in process: S3 is strongly consistent, so a response stored on one
  instance is found by the next request on any other.

Boto3 calls (and the compression around them) run in a worker thread on a client of
their own, one retry, each call bounded by DEADLINE_S.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
import orjson

from gateway import aws
from gateway.config import settings
from gateway.errors import (
    GatewayError,
    InternalError,
    RequestTooLargeError,
    ServiceUnavailableError,
)
from gateway.s3docs import CorruptDocumentError, gunzip, number

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from boto3 import Session

    from gateway.http.auth import Caller

logger = logging.getLogger(__name__)
T = TypeVar("T")

FORMAT_VERSION = 1
PREFIX = f"v{FORMAT_VERSION}/"  # the lifecycle rule and the IAM policy name it too
ID_PATTERN = re.compile(r"resp_[A-Za-z0-9_-]{1,128}")
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024  # uncompressed JSON, both ways
MAX_OBJECT_BYTES = MAX_DOCUMENT_BYTES + 64 * 1024  # gzip can outgrow incompressible input
COMPRESS_LEVEL = 1  # the request waits on it; levels 1 to 6 differ little on base64 images
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 5.0
DEADLINE_S = 10.0  # the longest a request waits for one store call, the retry included
# AccessDenied (403 on HEAD): the function may not s3:ListBucket, so S3 answers that for
# a missing object instead of NoSuchKey (404).
ABSENT = frozenset({"NoSuchKey", "404", "AccessDenied", "403"})


class ResponseStoreUnavailableError(ServiceUnavailableError):
    code = "response_store_unavailable"


class StoredResponseTooLargeError(RequestTooLargeError):
    code = "stored_response_too_large"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    response: dict[str, Any]  # the Response object, as the client got it
    input_items: list[dict[str, Any]]  # this turn's input items
    history: list[dict[str, Any]]  # every earlier item of the conversation, in order

    def conversation(self) -> list[dict[str, Any]]:
        """The items a follow-up turn (`previous_response_id`) replays."""
        output = self.response.get("output")
        return [*self.history, *self.input_items, *(output if isinstance(output, list) else [])]


def scope_of(caller: Caller) -> str:
    """Whose responses these are: the key's team, else the key (its id survives rotation),
    else the master key's own. Never a credential: a key's token is its SHA-256."""
    identity = caller.identity
    if identity is None:
        return "master"
    key = identity.key
    if key.team_id:
        return f"team:{key.team_id}"
    return f"key:{key.key_id or key.token}"


def valid_id(response_id: object) -> bool:
    return isinstance(response_id, str) and ID_PATTERN.fullmatch(response_id) is not None


def scope_hash(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:32]


def object_key(scope: str, response_id: str) -> str:
    """The S3 key. The scope is hashed: no team or key id appears in a key."""
    return f"{PREFIX}{scope_hash(scope)}/{response_id}"


_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _client(session: Session) -> Any:
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": 2},  # the first try and one retry
    )
    with _lock:  # a boto3 session is not safe to make clients from two threads at once
        return session.client("s3", config=config)


def client() -> Any:
    """The store's S3 client, remade whenever `aws.reset()` made a new session (tests,
    SnapStart restore), so it needs no reset hook of its own."""
    return _client(aws.session())


def reset() -> None:
    _client.cache_clear()


def response_store() -> ResponseStore:
    """The stack's store (GATEWAY_RESPONSE_STORE_BUCKET). Cheap: the client is shared."""
    current = settings()
    if not current.response_store_bucket:
        raise ResponseStoreUnavailableError(
            "This gateway has no response store: responses cannot be stored or retrieved.",
            code="response_store_not_configured",
        )
    return ResponseStore(current.response_store_bucket, ttl_s=current.stored_response_ttl_s)


def encode(scope: str, record: StoredResponse, created_at: float, expires_at: float) -> bytes:
    """The object's bytes (raises StoredResponseTooLargeError)."""
    document = {
        "v": FORMAT_VERSION,
        "id": record.response["id"],
        "scope": scope,
        "created_at": created_at,
        "expires_at": expires_at,
        "model": record.response.get("model"),
        "response": record.response,
        "input_items": record.input_items,
        "history": record.history,
    }
    try:
        raw = orjson.dumps(document)
    except orjson.JSONEncodeError:
        raise InternalError("The response could not be stored.") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise StoredResponseTooLargeError(
            f"The conversation is too large to store (over {MAX_DOCUMENT_BYTES >> 20} MB);"
            " send it again with store: false, or start a new one."
        )
    return gzip.compress(raw, compresslevel=COMPRESS_LEVEL, mtime=0)


def metadata(scope: str, data: bytes, created_at: float, expires_at: float) -> dict[str, str]:
    return {
        "expires-at": repr(expires_at),
        "created-at": repr(created_at),
        "sha256": hashlib.sha256(data).hexdigest(),
        "scope-hash": scope_hash(scope),
    }


def _items(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise CorruptDocumentError("items are not a list of objects")
    return value


def is_live(scope: str, meta: Mapping[str, str], now: float) -> bool:
    """Whether metadata names an unexpired record of `scope` (raises CorruptDocumentError)."""
    if meta.get("scope-hash") != scope_hash(scope):
        raise CorruptDocumentError("another scope's metadata")
    return now < number(meta.get("expires-at"))


def decode(scope: str, response_id: str, data: bytes, meta: Mapping[str, str]) -> StoredResponse:
    """The record in an object's bytes (raises CorruptDocumentError); expiry is the caller's."""
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise CorruptDocumentError("sha256 mismatch")
    try:
        document = orjson.loads(gunzip(data, MAX_DOCUMENT_BYTES))
    except orjson.JSONDecodeError:
        raise CorruptDocumentError("not JSON") from None
    if not isinstance(document, dict) or document.get("v") != FORMAT_VERSION:
        raise CorruptDocumentError("unknown format version")
    # The object key already hashes the scope; this is the check that an object under it
    # is never served to another scope, whatever wrote it.
    if document.get("scope") != scope or document.get("id") != response_id:
        raise CorruptDocumentError("another scope's or another id's record")
    times = (number(document.get("expires_at")), number(document.get("created_at")))
    if times != (number(meta.get("expires-at")), number(meta.get("created-at"))):
        raise CorruptDocumentError("metadata and body disagree")
    response = document.get("response")
    if not isinstance(response, dict) or response.get("id") != response_id:
        raise CorruptDocumentError("no response of this id")
    return StoredResponse(
        response, _items(document.get("input_items")), _items(document.get("history"))
    )


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _describe(exc: Exception) -> str:
    """Error class and S3 code: enough to act on, nothing from a message or a body."""
    return f"{type(exc).__name__} {_error_code(exc)}".strip()


def _unavailable() -> ResponseStoreUnavailableError:
    return ResponseStoreUnavailableError(
        "Stored responses are unavailable right now; retry shortly.",
        headers={"retry-after": "2"},
    )


class ResponseStore:
    """Stored responses in `bucket`, kept `ttl_s`. `s3` replaces the store's own client."""

    def __init__(
        self,
        bucket: str,
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.time,
        s3: Any | None = None,
    ) -> None:
        if not 0 < ttl_s < math.inf:
            raise ValueError("ttl_s must be positive")
        self.bucket = bucket
        self.ttl_s = ttl_s
        self._clock = clock
        self._s3 = s3

    async def put(self, scope: str, record: StoredResponse) -> None:
        """Store `record` under its response's id (replacing one of the same id).

        Raises StoredResponseTooLargeError (413) over the size limit, and
        ResponseStoreUnavailableError (503) when S3 fails after one retry or is slow.
        """
        response_id = record.response.get("id")
        if not scope or not valid_id(response_id):
            raise ValueError("a stored response needs a scope and a resp_ id")
        await self._call(self._write, scope, record, action="write", response_id=response_id)

    async def get(self, scope: str, response_id: str) -> StoredResponse | None:
        """The record, or None when absent, expired, corrupt, another scope's or the id
        is malformed. Raises ResponseStoreUnavailableError when S3 cannot answer."""
        if not scope or not valid_id(response_id):
            return None
        found: StoredResponse | None = await self._call(
            self._read, scope, response_id, action="read", response_id=response_id
        )
        return found

    async def delete(self, scope: str, response_id: str) -> bool:
        """Delete the record; True when there was one `get` would have found. Deleting
        again is False. Raises ResponseStoreUnavailableError when S3 cannot answer."""
        if not scope or not valid_id(response_id):
            return False
        existed: bool = await self._call(
            self._remove, scope, response_id, action="delete", response_id=response_id
        )
        return existed

    async def _call(self, run: Callable[..., T], *args: Any, action: str, response_id: object) -> T:
        result: list[T] = []
        try:
            with anyio.move_on_after(DEADLINE_S):
                result.append(await anyio.to_thread.run_sync(run, *args, abandon_on_cancel=True))
        except GatewayError:
            raise
        except Exception as exc:
            logger.warning(
                "response store %s failed for %s: %s", action, response_id, _describe(exc)
            )
            raise _unavailable() from None
        if not result:
            logger.warning("response store %s timed out for %s", action, response_id)
            raise _unavailable()
        return result[0]

    def _s3_client(self) -> Any:
        return self._s3 if self._s3 is not None else client()

    def _write(self, scope: str, record: StoredResponse) -> None:
        created_at = self._clock()
        expires_at = created_at + self.ttl_s
        data = encode(scope, record, created_at, expires_at)
        self._s3_client().put_object(
            Bucket=self.bucket,
            Key=object_key(scope, record.response["id"]),
            Body=data,
            ContentType="application/json",
            ContentEncoding="gzip",
            Metadata=metadata(scope, data, created_at, expires_at),
        )

    def _read(self, scope: str, response_id: str) -> StoredResponse | None:
        from botocore.exceptions import ClientError

        try:
            response = self._s3_client().get_object(
                Bucket=self.bucket, Key=object_key(scope, response_id)
            )
        except ClientError as exc:
            if _error_code(exc) in ABSENT:
                return None
            raise
        body = response["Body"]
        try:
            meta = response.get("Metadata") or {}
            if not is_live(scope, meta, self._clock()):  # decided before the body is read
                return None
            if int(response.get("ContentLength") or 0) > MAX_OBJECT_BYTES:
                raise CorruptDocumentError("larger than any record written")
            return decode(scope, response_id, body.read(), meta)
        except CorruptDocumentError as exc:
            logger.warning("stored response %s is corrupt (%s); not served", response_id, exc)
            return None
        finally:
            body.close()

    def _remove(self, scope: str, response_id: str) -> bool:
        from botocore.exceptions import ClientError

        key = object_key(scope, response_id)
        try:
            head = self._s3_client().head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in ABSENT:
                return False
            raise
        try:
            existed = is_live(scope, head.get("Metadata") or {}, self._clock())
        except CorruptDocumentError:
            existed = False  # as `get` would say; the object goes all the same
        self._s3_client().delete_object(Bucket=self.bucket, Key=key)
        return existed
