"""The local AWS emulation: moto's server on 127.0.0.1, one request at a time.

moto's backends are not thread-safe, and werkzeug serves each request in its own
thread, so a lock makes every call atomic, as each DynamoDB operation is in AWS.
`fault` lets tests fail chosen calls the way AWS does (throttling, outages).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from werkzeug.serving import BaseWSGIServer

HOST = "127.0.0.1"

# (status, __type) of the errors a fault can inject, as DynamoDB's JSON protocol sends them.
FAULTS = {
    "throttle": (400, "com.amazonaws.dynamodb.v20120810#ThrottlingException"),
    "unavailable": (503, "com.amazonaws.dynamodb.v20120810#ServiceUnavailable"),
}


@dataclass
class Emulation:
    url: str
    server: BaseWSGIServer
    thread: threading.Thread
    # operation (X-Amz-Target suffix, e.g. "GetItem") -> fault name; "*" matches all.
    faults: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


def _locked(app: Any, emulation: Callable[[], Emulation]) -> Any:
    lock = threading.Lock()

    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        operation = target.rpartition(".")[2]
        state = emulation()
        fault = state.faults.get(operation) or (state.faults.get("*") if operation else None)
        if operation:
            state.calls.append(operation)
        if fault:
            status, kind = FAULTS[fault]
            body = json.dumps({"__type": kind, "message": "injected fault"}).encode()
            start_response(f"{status} Fault", [("Content-Type", "application/x-amz-json-1.0")])
            return [body]
        with lock:
            return list(app(environ, start_response))

    return wrapped


def start(port: int = 0) -> Emulation:
    import logging

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call otherwise
    holder: list[Emulation] = []
    app = _locked(DomainDispatcherApplication(create_backend_app), lambda: holder[0])
    server = make_server(HOST, port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    bound = server.server_address[1]
    holder.append(Emulation(url=f"http://{HOST}:{bound}", server=server, thread=thread))
    thread.start()
    return holder[0]
