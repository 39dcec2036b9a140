"""The local AWS emulation: moto's server on 127.0.0.1, one request at a time.

moto's backends are not thread-safe, and werkzeug serves each request in its own
thread, so a lock makes every call atomic, as each DynamoDB operation is in AWS.
`faults` lets tests fail chosen calls the way AWS does: throttling and outages answer
an error without applying the call; "lost" applies it and then answers 500, as when a
response is lost on the way back (the client retries a call that already happened).
`inject(operation, fault, times=N)` limits a fault to the next N calls.
Tests start it in their own process; `make dev` runs `python -m gateway.local.emulation`.
"""

from __future__ import annotations

import json
import threading
import time
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
    "lost": (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),  # after applying
}
APPLIED_FAULTS = frozenset({"lost"})


@dataclass
class Emulation:
    url: str
    server: BaseWSGIServer
    thread: threading.Thread
    # operation (X-Amz-Target suffix, e.g. "GetItem") -> fault name; "*" matches all.
    faults: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    # operation -> calls the fault still applies to (absent: every call until cleared).
    remaining: dict[str, int] = field(default_factory=dict)
    _counting: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def inject(self, operation: str, fault: str, times: int | None = None) -> None:
        """Fail `operation` ("*": every operation) with `fault`, for `times` calls or always."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {sorted(FAULTS)}")
        with self._counting:
            self.faults[operation] = fault
            if times is None:
                self.remaining.pop(operation, None)
            else:
                self.remaining[operation] = times

    def take_fault(self, operation: str) -> str | None:
        """The fault for this call of `operation`, counting it down."""
        if not operation:
            return None
        with self._counting:
            key = operation if operation in self.faults else "*"
            fault = self.faults.get(key)
            if fault is None:
                self.remaining.pop(key, None)  # cleared through `faults` directly
                return None
            if key not in self.remaining:
                return fault
            self.remaining[key] -= 1
            if self.remaining[key] <= 0:
                del self.remaining[key]
                self.faults.pop(key, None)
            return fault

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


def _locked(app: Any, emulation: Callable[[], Emulation]) -> Any:
    lock = threading.Lock()

    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        operation = target.rpartition(".")[2]
        state = emulation()
        fault = state.take_fault(operation)
        if operation:
            state.calls.append(operation)
        if fault in APPLIED_FAULTS:
            with lock:  # applied; its answer is dropped
                list(app(environ, lambda *_args, **_kwargs: None))
        if fault:
            status, kind = FAULTS[fault]
            body = json.dumps({"__type": kind, "message": "injected fault"}).encode()
            start_response(f"{status} Fault", [("Content-Type", "application/x-amz-json-1.0")])
            return [body]
        with lock:
            return list(app(environ, start_response))

    return wrapped


# ---- moto's TransactWriteItems, made affordable ------------------------------------------
#
# moto (5.x) rolls a cancelled transaction back by deep-copying the whole table once per
# action: a 100-action transaction on a table of a few thousand items takes seconds, under
# the lock every other call of the stack waits on. And it applies every action before it
# finds that a condition failed, then undoes them all (each update costs it ~10 ms).
# The patch keeps moto's own transaction code and semantics, but: conditions are checked
# first, against the items as they are (as DynamoDB does: moto's order only differs when
# an item appears twice, which it refuses), so a cancelled transaction applies nothing;
# and rollback restores the items the transaction names instead of copying the table.

_transaction = threading.local()


def _table_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
    if getattr(_transaction, "active", False):
        return self  # moto's per-action snapshot; the item snapshots below replace it
    import copy

    clone = self.__class__.__new__(self.__class__)
    memo[id(self)] = clone
    for name, value in self.__dict__.items():
        setattr(clone, name, copy.deepcopy(value, memo))
    return clone


def _targets(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(table, hash key, range key, op) of each action moto can resolve."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    found = []
    for action in transact_items:
        for kind, op in action.items():
            table = backend.tables.get(op.get("TableName"))
            key = op.get("Item") if kind == "Put" else op.get("Key")
            if table is None or not isinstance(key, dict) or table.hash_key_attr not in key:
                continue
            range_key = None
            if table.has_range_key:
                if table.range_key_attr not in key:
                    continue
                range_key = DynamoType(key[table.range_key_attr])
            found.append((table, DynamoType(key[table.hash_key_attr]), range_key, op))
    return found


def _precheck(targets: list[tuple[Any, ...]], count: int) -> None:
    """Cancel (as moto would, reasons included) before applying anything."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import TransactionCanceledException

    if len(targets) != count or len({(id(t), h, r) for t, h, r, _ in targets}) != count:
        return  # moto's own validation will answer
    errors: list[Any] = []
    for table, hash_key, range_key, op in targets:
        current = table.get_item(hash_key, range_key)
        expression = op.get("ConditionExpression")
        if expression is None or get_filter_expression(
            expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current):
            errors.append((None, None, None))
            continue
        old = None
        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
            old = current.to_json()["Attributes"]
        errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
    if any(code for code, _, _ in errors):
        raise TransactionCanceledException(errors)


def _patch_moto_transactions() -> None:
    import copy

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "patched_by_gateway", False):
        return

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        targets = _targets(self, transact_items)
        _precheck(targets, len(transact_items))
        saved = [(t, h, r, copy.deepcopy(t.get_item(h, r))) for t, h, r, _ in targets]
        _transaction.active = True
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, before in reversed(saved):
                if before is None:
                    if table.get_item(hash_key, range_key) is not None:
                        table.delete_item(hash_key, range_key)
                elif range_key is not None:
                    table.items[hash_key][range_key] = before
                else:
                    table.items[hash_key] = before
            raise
        finally:
            _transaction.active = False

    transact_write_items.patched_by_gateway = True  # type: ignore[attr-defined]
    Table.__deepcopy__ = _table_deepcopy  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


# ---- moto's SQS, made affordable ---------------------------------------------------------
#
# moto (5.x) answers every SQS call by walking the whole queue, and reads the clock through
# datetime twice per message on each walk: a ReceiveMessage asks for the queue's attributes
# (three walks) three times per message it returns. With a backlog of 2,000 messages a
# SendMessageBatch takes 0.3 s and a ReceiveMessage 0.9 s, under the lock: a burst that
# leaves a backlog slows every call of the stack, which slows the spend worker, which
# grows the backlog. The patch keeps the walks (and so moto's semantics) but reads the
# clock once per walk, and reads the retention period straight off the queue.


def _now_ms() -> float:
    return time.time() * 1000  # moto's unix_time_millis, without the datetime arithmetic


def _visible(queue: Any) -> list[Any]:
    now = _now_ms()
    return [m for m in queue._messages if now > m.visible_at and now >= m.delayed_until]


def _counting(test: Callable[[Any, float], bool]) -> property:
    def count(queue: Any) -> int:
        now = _now_ms()
        return sum(1 for m in queue._messages if test(m, now))

    return property(count)


def _retained(backend: Any, queue_name: str, message: Any) -> bool:
    retention = backend.get_queue(queue_name).message_retention_period
    return bool(retention + message.sent_timestamp / 1000 > time.time())


def _patch_moto_sqs() -> None:
    from moto.sqs.models import Message, Queue, SQSBackend

    if getattr(Queue, "patched_by_gateway", False):
        return
    replacements: dict[tuple[type, str], object] = {
        (Queue, "messages"): property(_visible),
        (Queue, "approximate_number_of_messages"): property(lambda q: len(_visible(q))),
        (Queue, "approximate_number_of_messages_delayed"): _counting(
            lambda m, now: now < m.delayed_until
        ),
        (Queue, "approximate_number_of_messages_not_visible"): _counting(
            lambda m, now: now <= m.visible_at
        ),
        (Message, "visible"): property(lambda m: _now_ms() > m.visible_at),
        (Message, "delayed"): property(lambda m: _now_ms() < m.delayed_until),
        (SQSBackend, "is_message_valid_based_on_retention_period"): _retained,
    }
    for (cls, name), value in replacements.items():
        setattr(cls, name, value)
    setattr(Queue, "patched_by_gateway", True)  # noqa: B010 - not an attribute moto declares


def _patch_moto_dispatch() -> None:
    """moto lists its own package directory on every call, to find a backend by host."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "patched_by_gateway", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def listed() -> tuple[str, ...]:
        return modules

    setattr(listed, "patched_by_gateway", True)  # noqa: B010
    setattr(backends, "list_of_moto_modules", listed)  # noqa: B010


def start(port: int = 0) -> Emulation:
    import logging

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call otherwise
    _patch_moto_transactions()
    _patch_moto_sqs()
    _patch_moto_dispatch()
    holder: list[Emulation] = []
    app = _locked(DomainDispatcherApplication(create_backend_app), lambda: holder[0])
    server = make_server(HOST, port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    bound = server.server_address[1]
    holder.append(Emulation(url=f"http://{HOST}:{bound}", server=server, thread=thread))
    thread.start()
    return holder[0]


def main() -> None:
    """`python -m gateway.local.emulation [PORT]`: the emulation of `make dev`, in a process
    of its own (stack.py). Prints its URL, then serves until its standard input closes."""
    import os
    import signal
    import sys

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the stack, which ends this
    print(start(int(sys.argv[1]) if len(sys.argv) > 1 else 0).url, flush=True)
    os.dup2(2, 1)  # the stack reads one line: whatever moto prints later goes to stderr
    sys.stdin.buffer.read()


if __name__ == "__main__":
    main()
