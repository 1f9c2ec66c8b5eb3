"""Errors of the gateway, rendered in the wire format of the API the client speaks.

Each API family has its own error body (pure functions below); anything outside those
families uses the platform's one shape `{"error": {"type", "message", "detail"}}`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from inference_common.errors import UnavailableError, error_body


class Api(StrEnum):
    OPENAI = "openai"
    OLLAMA = "ollama"
    TGI = "tgi"
    ANTHROPIC = "anthropic"
    PLATFORM = "platform"


class Kind(StrEnum):
    INVALID = "invalid"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    TOO_LARGE = "too_large"
    UNAVAILABLE = "unavailable"
    UPSTREAM = "upstream"
    NOT_SUPPORTED = "not_supported"
    RATE_LIMITED = "rate_limited"


STATUS: dict[Kind, int] = {
    Kind.INVALID: 400,
    Kind.UNAUTHENTICATED: 401,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.TOO_LARGE: 413,
    Kind.UNAVAILABLE: 503,
    Kind.UPSTREAM: 502,
    Kind.NOT_SUPPORTED: 400,
    Kind.RATE_LIMITED: 429,
}


class GatewayError(Exception):
    def __init__(
        self,
        kind: Kind,
        message: str,
        *,
        retry_after: int | None = None,
        code: str | None = None,
        param: str | None = None,
        status: int | None = None,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.detail = detail
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        self.code = code
        self.param = param
        self.status = status or STATUS[kind]
        self.extra_headers = headers

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = dict(self.extra_headers or {})
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.kind is Kind.UNAUTHENTICATED:
            headers["WWW-Authenticate"] = "Bearer"
        return headers


def dependency_outage(dependency: str) -> GatewayError:
    """A dependency of the gateway itself (the database) is down: 503 naming it, with the
    platform's one outage message and Retry-After, in whichever API's shape it is rendered."""
    return GatewayError(
        Kind.UNAVAILABLE,
        f"{dependency} unavailable",
        retry_after=UnavailableError.retry_after,
        code="service_unavailable",
        detail={"dependency": dependency},
    )


def api_of_path(path: str) -> Api:
    """Which API family a request path belongs to (decides the error format)."""
    if path.startswith("/v1/messages"):
        return Api.ANTHROPIC
    if path.startswith(("/v1/", "/authz/")):
        return Api.OPENAI
    if path.startswith("/api/") and not path.startswith("/api/progress"):
        return Api.OLLAMA
    if path in ("/", "/generate", "/generate_stream", "/info"):
        return Api.TGI
    return Api.PLATFORM


_OPENAI_TYPES = {
    Kind.INVALID: "invalid_request_error",
    Kind.UNAUTHENTICATED: "invalid_request_error",
    Kind.FORBIDDEN: "permission_error",
    Kind.NOT_FOUND: "invalid_request_error",
    Kind.TOO_LARGE: "invalid_request_error",
    Kind.UNAVAILABLE: "server_error",
    Kind.UPSTREAM: "server_error",
    Kind.NOT_SUPPORTED: "invalid_request_error",
    Kind.RATE_LIMITED: "rate_limit_error",
}
_OPENAI_CODES = {
    Kind.UNAUTHENTICATED: "invalid_api_key",
    Kind.NOT_FOUND: "model_not_found",
    Kind.UNAVAILABLE: "model_unavailable",
    Kind.RATE_LIMITED: "rate_limit_exceeded",
}
_ANTHROPIC_TYPES = {
    Kind.INVALID: "invalid_request_error",
    Kind.UNAUTHENTICATED: "authentication_error",
    Kind.FORBIDDEN: "permission_error",
    Kind.NOT_FOUND: "not_found_error",
    Kind.TOO_LARGE: "request_too_large",
    Kind.UNAVAILABLE: "overloaded_error",
    Kind.UPSTREAM: "api_error",
    Kind.NOT_SUPPORTED: "invalid_request_error",
    Kind.RATE_LIMITED: "rate_limit_error",
}
_TGI_TYPES = {
    Kind.INVALID: "validation",
    Kind.UNAUTHENTICATED: "authentication",
    Kind.FORBIDDEN: "authorization",
    Kind.NOT_FOUND: "not_found",
    Kind.TOO_LARGE: "validation",
    Kind.UNAVAILABLE: "overloaded",
    Kind.UPSTREAM: "generation",
    Kind.NOT_SUPPORTED: "validation",
    Kind.RATE_LIMITED: "overloaded",
}
_PLATFORM_TYPES = {
    Kind.INVALID: "bad_request",
    Kind.UNAUTHENTICATED: "unauthorized",
    Kind.FORBIDDEN: "forbidden",
    Kind.NOT_FOUND: "not_found",
    Kind.TOO_LARGE: "payload_too_large",
    Kind.UNAVAILABLE: "unavailable",
    Kind.UPSTREAM: "bad_gateway",
    Kind.NOT_SUPPORTED: "bad_request",
    Kind.RATE_LIMITED: "too_many_requests",
}


def error_payload(api: Api, error: GatewayError) -> dict[str, Any]:
    """The JSON body of `error` in the wire format of `api`."""
    if api is Api.OPENAI:
        return {
            "error": {
                "message": error.message,
                "type": _OPENAI_TYPES[error.kind],
                "param": error.param,
                "code": error.code or _OPENAI_CODES.get(error.kind),
            }
        }
    if api is Api.ANTHROPIC:
        return {
            "type": "error",
            "error": {"type": _ANTHROPIC_TYPES[error.kind], "message": error.message},
        }
    if api is Api.OLLAMA:
        return {"error": error.message}
    if api is Api.TGI:
        return {"error": error.message, "error_type": _TGI_TYPES[error.kind]}
    return error_body(_PLATFORM_TYPES[error.kind], error.message, error.detail)
