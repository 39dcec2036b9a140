"""What every admin route does around its handler.

The master key or nothing (a valid virtual key is 403, anything else 401); 503 when
no table is configured (GATEWAY_TABLE); 503 with Retry-After when DynamoDB throttles
or cannot be reached. The handler gets the table and the request's audit context
(actor, request id, time); the answer carries the request id, which its audit records
hold too. The time comes from `app.state.clock` when a test sets one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.routing import Route

from gateway.errors import InternalError, InvalidRequestError, ServiceUnavailableError
from gateway.http.auth import require_master_key
from gateway.http.dependencies import table
from gateway.http.ids import request_id
from gateway.store.audit import MASTER_KEY_ACTOR, AuditContext
from gateway.store.dynamo import DynamoError, DynamoUnavailableError
from gateway.store.entities import Transaction

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.store.dynamo import Dynamo

logger = logging.getLogger(__name__)

RETRY_AFTER_S = "2"


@dataclass(frozen=True, slots=True)
class Admin:
    """One admin request's table and audit context."""

    db: Dynamo
    audit: AuditContext

    @property
    def now(self) -> int:
        return int(self.audit.at)

    def transaction(self) -> Transaction:
        return Transaction(self.db, self.audit)


def admin_route(
    path: str, handler: Callable[[Request, Admin], Awaitable[Response]], method: str = "POST"
) -> Route:
    async def endpoint(request: Request) -> Response:
        await require_master_key(request)
        db = table()
        if db is None:
            raise ServiceUnavailableError(
                "The admin API is not configured: the gateway has no table (GATEWAY_TABLE).",
                code="not_configured",
            )
        clock: Callable[[], float] = getattr(request.app.state, "clock", time.time)
        admin = Admin(db, AuditContext(MASTER_KEY_ACTOR, request_id(request), clock()))
        try:
            response = await handler(request, admin)
        except DynamoUnavailableError:
            logger.warning("admin request failed: DynamoDB unavailable")
            raise ServiceUnavailableError(
                "The gateway's table is unavailable; retry shortly.",
                headers={"retry-after": RETRY_AFTER_S},
            ) from None
        except DynamoError as exc:
            logger.warning("admin request failed: DynamoDB %s", exc.code)
            if exc.code == "ValidationException":
                raise InvalidRequestError(
                    "The request holds values the table cannot store."
                ) from None
            raise InternalError("The gateway failed; retry later.") from None
        response.headers["x-request-id"] = admin.audit.request_id  # the audit records' too
        return response

    return Route(path, endpoint, methods=[method])
