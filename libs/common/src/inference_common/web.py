"""What every FastAPI service wires in the same way: the one error shape (503 with
Retry-After for a dependency outage), request ids, request body limits, Prometheus metrics
and clean operation ids. Needs the `web` extra."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from urllib3.exceptions import HTTPError as TransportError

from inference_common.errors import (
    AppError,
    PayloadTooLargeError,
    UnavailableError,
    dependency_unavailable,
    error_body,
)
from inference_common.logging import request_fields_var, request_id_var
from inference_common.outages import OutageLog, kubernetes_errors, minio_errors, outage_of

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("inference.access")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probes and scrapes: no access-log line (they would drown the requests)."""

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"]
)


def dependency_errors() -> tuple[type[Exception], ...]:
    """Exceptions that may mean a dependency is down: each is looked at by `outage_of`, and
    answered 503 when it is an outage, 500 otherwise. Handled where the app's own errors
    are (not in the server-error middleware, which re-raises and so prints a traceback).
    The minio and Kubernetes clients' errors are among them when the service uses those
    clients: a service imports them before it builds its app."""
    return (
        OSError,
        SQLAlchemyError,
        asyncpg.PostgresError,
        TransportError,
        *minio_errors(),
        *kubernetes_errors(),
    )


outage_log = OutageLog(logger)

# the same few series on every request: their children are kept (labels() costs ~10 µs)
_requests_counter = lru_cache(maxsize=4096)(HTTP_REQUESTS.labels)
_latency_histogram = lru_cache(maxsize=4096)(HTTP_LATENCY.labels)

_STATUS_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    503: "unavailable",
}


def operation_id(route: APIRoute) -> str:
    """Operation ids are the route functions' names: clean enough to generate a client."""
    return route.name


def error_response(
    status: int,
    error_type: str,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(error_type, message, detail), status_code=status, headers=headers
    )


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": list(err.get("loc", ())),
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in exc.errors()
    ]


def app_error_response(exc: AppError) -> JSONResponse:
    return error_response(
        exc.status_code, exc.error_type, exc.message, exc.detail, exc.headers() or None
    )


def unexpected_error_response(exc: Exception) -> JSONResponse:
    """503 naming the dependency when `exc` is an outage (logged once per outage), else
    500 (logged with its traceback). Never a traceback in the answer."""
    dependency = outage_of(exc)
    if dependency is None:
        logger.error("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "internal server error")
    outage_log.report(dependency, exc)
    return app_error_response(dependency_unavailable(dependency))


def register_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        if isinstance(exc, UnavailableError) and exc.__cause__ is not None:
            dependency = outage_of(exc.__cause__)
            if dependency is not None:
                outage_log.report(dependency, exc.__cause__)
        return app_error_response(exc)

    async def dependency_error(_: Request, exc: Exception) -> JSONResponse:
        return unexpected_error_response(exc)

    for error in dependency_errors():
        app.add_exception_handler(error, dependency_error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = _validation_detail(exc)
        first = detail[0] if detail else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body")
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return error_response(422, "validation_error", message, detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        error_type = _STATUS_TYPES.get(exc.status_code, "http_error")
        return error_response(
            exc.status_code,
            error_type,
            str(exc.detail),
            None,
            dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return unexpected_error_response(exc)


class RequestContextMiddleware:
    """Request id (taken from X-Request-ID when well-formed, else new) on the log context
    and the response — an error no handler answered too (500 in the one error shape) —
    plus request metrics by route template (unless `metrics` is off) and, with
    `access_log`, one JSON line per request with the fields the app added through
    `inference_common.logging.request_fields()`."""

    def __init__(
        self, app: ASGIApp, service: str, metrics: bool = True, access_log: bool = False
    ) -> None:
        self.app = app
        self.service = service
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        # collected only when a line is written: outside it `request_fields()` is a throwaway
        logged = (
            self.access_log
            and scope["path"] not in QUIET_PATHS
            and access_logger.isEnabledFor(logging.INFO)
        )
        fields: dict[str, Any] | None = {} if logged else None
        fields_token = request_fields_var.set(fields)
        status = 500
        started_response = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if started_response:
                raise
            await unexpected_error_response(exc)(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            method = scope.get("method", "")
            if self.metrics:
                template = getattr(scope.get("route"), "path", "unmatched")
                _requests_counter(self.service, method, template, str(status)).inc()
                _latency_histogram(self.service, method, template).observe(seconds)
            if fields is not None:
                access_logger.info(
                    "request",
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                        **fields,
                    },
                )
            request_fields_var.reset(fields_token)
            request_id_var.reset(token)


BodyLimit = Callable[[str, str], int]
"""method, path → the most bytes that request's body may have."""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyTooLargeError(StarletteHTTPException):
    """Raised by `receive()` past the limit. An HTTPException, so that FastAPI passes it
    through its body parsing (anything else becomes a 400 there) to the 413 handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")


class BodyLimitMiddleware:
    """Request bodies are counted while they stream in, with a limit per route.

    A Content-Length above the limit is answered 413 before the app runs; a body that
    grows past it (chunked, or longer than declared) makes `receive()` raise
    BodyTooLargeError, which the app answers 413 as it answers its own errors. Either way
    the app never sees the rest of the body: uvicorn discards what still arrives (memory
    stays flat), and the connection stays open until the client stops sending, so that it
    reads the answer (closing at once makes the client's kernel drop the answer on the
    reset that unread data causes)."""

    def __init__(self, app: ASGIApp, limit_for: BodyLimit) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            too_large = PayloadTooLargeError(
                f"request body of {declared} bytes exceeds the limit of {limit}",
                {"max_bytes": limit},
            )
            await app_error_response(too_large)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, counting_receive, send)


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def install_common(
    app: FastAPI,
    service: str,
    body_limit: BodyLimit | None = None,
    *,
    metrics: bool = True,
    access_log: bool = False,
) -> None:
    """Error handlers, request context middleware, request body limits (when given),
    GET /metrics (unless `metrics` is off: then no Prometheus series are kept either) and,
    with `access_log`, one log line per request."""
    register_error_handlers(app)
    if body_limit is not None:
        app.add_middleware(BodyLimitMiddleware, limit_for=body_limit)
    app.add_middleware(
        RequestContextMiddleware, service=service, metrics=metrics, access_log=access_log
    )
    if not metrics:
        return

    @app.get("/metrics", include_in_schema=False, name="metrics")
    async def metrics_endpoint() -> Response:
        return metrics_response()
