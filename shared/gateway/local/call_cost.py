"""The CPU of one AWS call on a kept connection, as the gateway makes it in Lambda.

moto's server closes every connection, so end-to-end figures against the emulation
include a new loopback TCP connection per call. These figures use a local keep-alive
server instead: one UpdateItem-sized DynamoDB call, and one spend event (built,
serialized, signed and sent to SQS). Part of `make bench`.
"""

from __future__ import annotations

import os
import time

HOST = "127.0.0.1"


def measure_aws_calls(n: int) -> dict[str, float]:
    """CPU ms of one UpdateItem-sized DynamoDB call, and of one spend event (built,
    serialized, signed and sent to SQS), each on a kept connection (this thread only)."""
    import asyncio

    from gateway.billing.queue import SpendQueue
    from gateway.spend.events import Hold, SpendEvent
    from gateway.store.dynamo import Dynamo, reset

    answer = b'{"Attributes":{"requests":{"N":"7"},"window":{"N":"29000000"}}}'
    reply = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(answer), answer)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                writer.write(reply)
        except asyncio.IncompleteReadError:
            writer.close()  # the client closed its connection

    async def run() -> dict[str, float]:
        server = await asyncio.start_server(serve, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        db = Dynamo("bench", endpoint=f"http://{HOST}:{port}", region="us-east-1")
        payload = {
            "Key": {"pk": {"S": "LIMIT#key#k"}, "sk": {"S": "LIMIT"}},
            "UpdateExpression": "SET expires_at = :e ADD requests :one",
            "ConditionExpression": "#w = :w",
            "ExpressionAttributeNames": {"#w": "window"},
            "ExpressionAttributeValues": {
                ":e": {"N": "1"},
                ":one": {"N": "1"},
                ":w": {"N": "29000000"},
            },
        }
        for _ in range(100):
            await db.call("UpdateItem", payload)
        start = time.thread_time()
        for _ in range(n):
            await db.call("UpdateItem", payload)
        dynamodb = (time.thread_time() - start) / n * 1000
        queue = SpendQueue("https://sqs.us-east-1.amazonaws.com/1/q", endpoint=db.url[:-1])
        hold = Hold("key", "k" * 32, "1mo@1764547200", 20_000, 10**8, None, 1767225600, "1")
        start = time.thread_time()
        for i in range(n):
            event = SpendEvent(
                f"{i:032x}", 1, 2, api_key="a" * 64, key_id="k" * 32, key_alias="svc",
                team_id="team", user_id="user", model_group="gpt-4o-mini", model="gpt-4o-mini",
                model_id="d1", provider="openai", prompt_tokens=100, completion_tokens=50,
                spend_micros=45, tags=("prod",), holds=(hold,),
            )  # fmt: skip
            await queue.send(event.dumps(), event.request_id)
        spend = (time.thread_time() - start) / n * 1000
        reset()
        await asyncio.sleep(0.05)
        server.close()
        return {"dynamodb_call_cpu_ms": dynamodb, "spend_event_send_cpu_ms": spend}

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    return asyncio.run(run())
