"""AWS access: one boto3 session and cached clients, created on first use.

boto3 honours AWS_ENDPOINT_URL (the local stack points it at moto), so no
endpoint plumbing is needed here. Everything is reset by `reset()` (tests, and
the SnapStart after-restore hook, since restored sandboxes share a snapshot).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3 import Session
    from botocore.credentials import ReadOnlyCredentials

SECRET_MAX_AGE_S = 300.0  # a rotated secret is picked up within this bound

_lock = threading.Lock()
_secrets: dict[str, tuple[float, str]] = {}


@functools.cache
def session() -> Session:
    import boto3

    return boto3.Session()


@functools.cache
def client(service: str) -> Any:
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10
    )
    return session().client(service, config=config)  # type: ignore[call-overload]


def frozen_credentials() -> ReadOnlyCredentials:
    credentials = session().get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials available")
    return credentials.get_frozen_credentials()


def sigv4_headers(
    url: str, body: bytes, headers: dict[str, str], service: str, region: str
) -> dict[str, str]:
    """`headers` plus SigV4 signing headers for a POST of `body` to `url` (~0.1 ms)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    aws_request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(frozen_credentials(), service, region).add_auth(aws_request)
    return dict(aws_request.headers.items())


def secret_string(arn: str) -> str:
    """A Secrets Manager secret, cached for SECRET_MAX_AGE_S (blocking: call off the loop)."""
    now = time.monotonic()
    cached = _secrets.get(arn)
    if cached and now - cached[0] < SECRET_MAX_AGE_S:
        return cached[1]
    value = client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    with _lock:
        _secrets[arn] = (now, value)
    return str(value)


def secret_json(arn: str) -> dict[str, str]:
    data = json.loads(secret_string(arn))
    if not isinstance(data, dict):
        raise ValueError("secret must hold a JSON object")
    return {str(k): str(v) for k, v in data.items() if v}


def reset() -> None:
    session.cache_clear()
    client.cache_clear()
    with _lock:
        _secrets.clear()
