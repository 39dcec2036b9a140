#!/bin/bash
# Lambda handler for ApiFunction (template.yaml). The Lambda Web Adapter layer's /opt/bootstrap
# (AWS_LAMBDA_EXEC_WRAPPER) runs this script, waits for GET /health, then forwards every
# invocation to the server below as HTTP and streams the response back
# (AWS_LWA_INVOKE_MODE=response_stream).
#
# Import path: the function code (the `gateway` package) first, then the dependencies layer
# (/opt/python). The managed runtime puts /opt/python on sys.path only for its own Python
# bootstrap, which LWA replaces, so it is set here. Both come before the runtime's bundled
# boto3, so the pinned versions win.
here="${LAMBDA_TASK_ROOT:-$(cd "$(dirname "$0")" && pwd)}"
export PYTHONPATH="${here}:/opt/python${PYTHONPATH:+:${PYTHONPATH}}"

# --host 127.0.0.1: only the adapter in the same sandbox talks to the server.
# --no-access-log: the app logs each request itself; access lines would double the log cost.
# --timeout-keep-alive 60: longer than the adapter's 4 s connection-pool idle timeout, so the
#   server never closes a kept-alive connection that the adapter is about to reuse.
# --http httptools: the C HTTP parser cuts the gateway's CPU per streamed chunk by about a
#   fifth against h11 (uvloop measured no better than asyncio here, for 17 MB of layer).
exec python -m uvicorn --factory gateway.http.app:create_app \
    --host 127.0.0.1 --port "${PORT:-8080}" --loop asyncio --http httptools \
    --no-access-log --timeout-keep-alive 60 --log-level warning
