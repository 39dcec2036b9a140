"""Lambda handlers from functions/ (not a package: loaded by path) fed API Gateway events."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.apigw.json").read_text())
    return loaded


@contextlib.contextmanager
def invoker(path: str, function_name: str) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """Call `handler` of functions/<path> as Lambda would, with lower-cased answer headers."""
    spec = importlib.util.spec_from_file_location(function_name, ROOT / "functions" / path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    context = SimpleNamespace(function_name=function_name, aws_request_id="test-request")
    loop = asyncio.new_event_loop()  # Mangum runs on the thread's current event loop

    def call(lambda_event: dict[str, Any]) -> dict[str, Any]:
        asyncio.set_event_loop(loop)
        response: dict[str, Any] = module.handler(lambda_event, context)
        response["headers"] = {k.lower(): v for k, v in response.get("headers", {}).items()}
        return response

    try:
        yield call
    finally:
        asyncio.set_event_loop(None)
        loop.close()
