"""The platform's error hierarchy. Every service renders these in one JSON shape:

{"error": {"type": "not_found", "message": "model 'x' does not exist", "detail": {...}}}
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status_code = 500
    error_type = "internal_error"

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def headers(self) -> dict[str, str]:
        """Response headers that come with this error (none unless a subclass says so)."""
        return {}


class BadRequestError(AppError):
    status_code = 400
    error_type = "bad_request"


class UnauthorizedError(AppError):
    status_code = 401
    error_type = "unauthorized"


class ForbiddenError(AppError):
    status_code = 403
    error_type = "forbidden"


class NotFoundError(AppError):
    status_code = 404
    error_type = "not_found"


class ConflictError(AppError):
    status_code = 409
    error_type = "conflict"


class PayloadTooLargeError(AppError):
    status_code = 413
    error_type = "payload_too_large"


class UnprocessableError(AppError):
    status_code = 422
    error_type = "unprocessable"


class UnavailableError(AppError):
    """Something the request needs is down; the client may retry after `retry_after` s."""

    status_code = 503
    error_type = "unavailable"
    retry_after = 5

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def dependency_unavailable(dependency: str) -> UnavailableError:
    """The one message for an outage: "database unavailable", "object store unavailable"."""
    return UnavailableError(f"{dependency} unavailable", {"dependency": dependency})


def error_body(error_type: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"type": error_type, "message": message, "detail": detail}}
