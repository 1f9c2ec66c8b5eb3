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


class TooManyRequestsError(AppError):
    status_code = 429
    error_type = "too_many_requests"


class UnavailableError(AppError):
    status_code = 503
    error_type = "unavailable"


def error_body(error_type: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"type": error_type, "message": message, "detail": detail}}
