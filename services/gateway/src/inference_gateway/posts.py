"""The gateway's POST endpoints, every one served by the same code: `PostEndpoint`, an
explicit Starlette route (no FastAPI dependency solving on the hot path, which cost about
0.4 ms of CPU per request on the 2-core dev machine).

A handler is a plain function `handler(body, request, gw, principal) -> Response`: the
caller is authenticated from the headers, then the body is read under the size limit and
validated as JSON with the pydantic model the handler declares, whatever content type the
client declares (Ollama's own documentation posts with `curl -d`, a form content type, and
Ollama reads JSON all the same); errors are rendered by the app's own exception handlers.

There is no FastAPI route behind these paths, so no `Depends` that could silently not run;
the OpenAPI document describes them from the same table (`described_routes`)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, get_type_hints

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from inference_common.web import operation_id
from inference_gateway.auth import Principal
from inference_gateway.errors import GatewayError, Kind
from inference_gateway.gateway import Gateway
from inference_gateway.rategate import current_ticket

Handler = Callable[[Any, Request, Gateway, Principal], Awaitable[Response]]
H = TypeVar("H", bound=Handler)


class BodyGoneError(Exception):
    """The client disconnected while sending the body."""


@dataclass(frozen=True)
class Post:
    path: str
    model: type[BaseModel]
    handler: Handler
    tag: str


class PostRoutes:
    """One module's POST endpoints, declared like FastAPI routes:
    `@posts.post("/v1/chat/completions")` on a handler whose `body` names its model."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.posts: list[Post] = []

    def post(self, path: str) -> Callable[[H], H]:
        def register(handler: H) -> H:
            model = get_type_hints(handler)["body"]
            self.posts.append(Post(path, model, handler, self.tag))
            return handler

        return register


def body_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors located under `body`, as FastAPI reports them."""
    return [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]


def declared_length(scope: Scope) -> bytes | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return bytes(value)
    return None


def too_large(limit: int) -> GatewayError:
    return GatewayError(Kind.TOO_LARGE, f"request body over {limit} bytes")


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, counted as it arrives: TOO_LARGE as soon as it passes `limit`."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyGoneError()
        part: bytes = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise too_large(limit)
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts)


class PostEndpoint:
    """The ASGI app of one POST route. Limits come before work: the caller is authenticated
    from the headers and a declared length checked before a byte of the body is read, and
    a chunked body is counted as it arrives, refused as soon as it passes the limit (what
    the client still sends is dropped by the server as it arrives, never buffered).

    A caller refused for its credentials also has its connection closed, so it stops
    sending a body nobody reads. A 413 keeps the connection, so clients that send their
    whole body before reading (most HTTP clients) still get the 413 and not a reset."""

    def __init__(self, post: Post, limit: int) -> None:
        self.post = post
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        gateway: Gateway = scope["app"].state.gateway
        try:
            principal = await gateway.auth.authenticate(request.headers)
        except GatewayError as exc:
            refusal = await scope["app"].exception_handlers[GatewayError](request, exc)
            refusal.headers["connection"] = "close"
            await refusal(scope, receive, send)
            return
        length = declared_length(scope)
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            raise too_large(self.limit)
        rates = gateway.rates
        ticket = rates.admit(principal) if rates is not None else None
        if rates is None or ticket is None:
            await self._serve(request, send, gateway, principal)
            return
        token = current_ticket.set(ticket)
        try:
            await self._serve(request, send, gateway, principal, ticket.headers)
        finally:
            current_ticket.reset(token)
            rates.release(ticket)

    async def _serve(
        self,
        request: Request,
        send: Send,
        gateway: Gateway,
        principal: Principal,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Reads and validates the body, runs the handler and sends its answer (with the
        request's rate limit headers)."""
        try:
            raw = await read_body(request.receive, self.limit)
        except BodyGoneError:
            return
        try:
            body = self.post.model.model_validate_json(raw)
        except ValidationError as exc:
            raise RequestValidationError(body_errors(exc)) from exc
        response = await self.post.handler(body, request, gateway, principal)
        if headers:
            response.headers.update(headers)
        await response(request.scope, request.receive, send)


class PostRoute(Route):
    """The Starlette route of one POST endpoint; it names itself in the scope (FastAPI's
    router does that only for its own routes), so metrics count it under its path."""

    def __init__(self, post: Post, limit: int) -> None:
        super().__init__(
            post.path, PostEndpoint(post, limit), methods=["POST"], name=post.handler.__name__
        )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


def post_routes(posts: Iterable[Post], limit: int) -> list[Route]:
    return [PostRoute(p, limit) for p in posts]


def described_routes(posts: Iterable[Post]) -> list[APIRoute]:
    """FastAPI routes that only describe the POST endpoints in the OpenAPI document; they
    are never mounted, so nothing on them runs."""
    return [
        APIRoute(
            p.path,
            _signature_only(p.model),
            methods=["POST"],
            name=p.handler.__name__,
            description=inspect.getdoc(p.handler) or "",
            tags=[p.tag],
            response_model=None,
            generate_unique_id_function=operation_id,
        )
        for p in posts
    ]


def _signature_only(model: type[BaseModel]) -> Callable[..., Awaitable[None]]:
    async def described(body: Any) -> None:
        raise NotImplementedError

    parameter = inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=model)
    described.__signature__ = inspect.Signature([parameter])  # type: ignore[attr-defined]
    return described
