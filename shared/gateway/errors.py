"""The gateway's error tree and its OpenAI-shaped envelope.

Every failure a client sees is one of these, rendered as
`{"error": {"message", "type", "param", "code"}}` with the right status.
Messages are written by us: never raw exception text or an upstream body.
"""

from __future__ import annotations

import json


class GatewayError(Exception):
    """Base class: status, OpenAI error type and code, optional param and headers."""

    status = 500
    type = "api_error"
    code = "internal_error"
    billed = False  # set when the provider had answered 2xx: it may charge for the attempt

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def body_bytes(self) -> bytes:
        return json.dumps(self.body()).encode()


class InvalidRequestError(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_value"


class UnsupportedParameterError(InvalidRequestError):
    code = "unsupported_parameter"


class ContextLengthError(InvalidRequestError):
    code = "context_length_exceeded"


class ContentPolicyError(InvalidRequestError):
    code = "content_policy_violation"


class AuthenticationError(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDeniedError(GatewayError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class ModelNotAllowedError(PermissionDeniedError):
    code = "model_not_allowed"


class NotFoundError(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFoundError(NotFoundError):
    code = "model_not_found"


class MethodNotAllowedError(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class RequestTimeoutError(GatewayError):
    """The request body did not arrive in time (GATEWAY_BODY_TIMEOUT_S)."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class RequestTooLargeError(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class UnsupportedMediaTypeError(GatewayError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


class RateLimitError(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExceededError(GatewayError):
    """A budget (key, team or user) cannot cover the request's worst-case cost.

    LiteLLM's shape: type `budget_exceeded` and its message "Budget has been exceeded!
    ...", with 429 (OpenAI's status for an exhausted quota) instead of LiteLLM's 400, so
    clients treat it as a quota refusal rather than a malformed request.
    """

    status = 429
    type = "budget_exceeded"
    code = "budget_exceeded"


class ClientClosedError(GatewayError):
    """The client left before the answer ended. Never sent (nobody is listening): it
    names how the request ended in its spend log, with nginx's 499."""

    status = 499
    type = "client_closed_request"
    code = "client_disconnected"


class UpstreamError(GatewayError):
    """The provider failed or answered something we cannot use."""

    status = 502
    type = "api_error"
    code = "upstream_error"


class UpstreamAuthError(UpstreamError):
    code = "upstream_auth_failed"


class ServiceUnavailableError(GatewayError):
    status = 503
    type = "service_unavailable_error"
    code = "service_unavailable"


class UpstreamTimeoutError(GatewayError):
    status = 504
    type = "api_error"
    code = "upstream_timeout"


class InternalError(GatewayError):
    """A bug: the client gets a generic message and the request id."""
