"""AdminFunction's entrypoint: the admin app (keys, teams, users) under Mangum.

Admin answers are small and never streamed, so the function runs buffered behind API
Gateway, without Lambda Web Adapter. lifespan="auto": the app's startup and shutdown
run around every invocation; shutdown closes the shared DynamoDB client, so nothing
outlives an invocation's event loop.
"""

from __future__ import annotations

from mangum import Mangum

from gateway.http.app import create_admin_app

handler = Mangum(create_admin_app(), lifespan="auto")
