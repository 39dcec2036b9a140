"""Arrange virtual keys, teams and users directly in the table (the admin API has its own tests)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx

from gateway.schemas.records import KeyRecord, TeamRecord, UserRecord
from gateway.store.dynamo import encode_item
from gateway.store.keys import display_name, generate_key, hash_key, new_id
from gateway.store.table import item_of

if TYPE_CHECKING:
    import openai

    from conftest import GatewayTable


def put(table: GatewayTable, record: KeyRecord | TeamRecord | UserRecord) -> None:
    table.client.put_item(TableName=table.name, Item=encode_item(item_of(record)))


def make_key(table: GatewayTable, **fields: Any) -> str:
    """A new key with the given record fields; returns the plaintext key."""
    key = generate_key()
    now = int(time.time())
    record = KeyRecord(
        token=hash_key(key),
        key_id=new_id(),
        key_name=display_name(key),
        created_at=now,
        updated_at=now,
        **fields,
    )
    put(table, record)
    return key


def make_team(table: GatewayTable, team_id: str, **fields: Any) -> None:
    put(table, TeamRecord(team_id=team_id, created_at=int(time.time()), **fields))


def make_user(table: GatewayTable, user_id: str, **fields: Any) -> None:
    put(table, UserRecord(user_id=user_id, created_at=int(time.time()), **fields))


def asgi_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=30
    )


def chat(model: str = "gpt-4o-mini", text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def async_sdk(key: str) -> openai.AsyncOpenAI:
    """The official openai SDK on a new app instance (as another Lambda sandbox)."""
    import openai

    from gateway.http.app import create_app

    transport = httpx.ASGITransport(app=create_app())
    http = httpx.AsyncClient(transport=transport, base_url="http://gateway/v1")
    return openai.AsyncOpenAI(
        base_url="http://gateway/v1", api_key=key, http_client=http, max_retries=0
    )
