"""Buffered Lambda entrypoint: the same ASGI app under Mangum (`buffered.handler`).

Mangum returns the whole body at once, so streamed completions arrive as one SSE body. The
deployed function uses Lambda Web Adapter (run.sh) instead; this handler takes the same API
Gateway events (events/*.apigw.json) in tests, and in `sam local invoke -e ...` with the
function's Handler set to buffered.handler.

lifespan="auto": Mangum runs the app's startup and shutdown around every invocation, as
uvicorn does once per process. Shutdown closes the shared upstream client, so nothing outlives
an invocation's event loop; the cost, a new upstream connection per invocation, does not
matter on this path.
"""

from __future__ import annotations

from mangum import Mangum

from gateway.http.app import create_app

handler = Mangum(create_app(), lifespan="auto")
