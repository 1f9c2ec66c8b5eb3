"""Direct dispatch of the inference endpoints: POSTs whose handler has the one shape
`handler(body, request, gw, principal) -> Response`.

FastAPI's routing, dependency solving and request wrapping cost about 0.4 ms of CPU per
request on the 2-core dev machine, a large part of the gateway's 1 ms budget. For these
few endpoints this layer calls the same handler functions itself: the body is read (with
the size limit) and validated with the handler's own pydantic model, the caller is
authenticated the same way, and errors are rendered by the app's own exception handlers.
The FastAPI routes stay registered: they are the OpenAPI document, and they serve every
other path and method."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, get_type_hints

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from inference_gateway.auth import Principal
from inference_gateway.errors import GatewayError, Kind
from inference_gateway.gateway import Gateway

Handler = Callable[[Any, Request, Gateway, Principal], Awaitable[Response]]


class BodyGoneError(Exception):
    """The client disconnected while sending the body."""


@dataclass(frozen=True)
class DirectRoute:
    route: APIRoute
    model: type[BaseModel]
    handler: Handler


def direct_routes(routers: Iterable[APIRouter], paths: Iterable[str]) -> dict[str, DirectRoute]:
    """The routers' POST routes at `paths`, each with the body model its handler declares."""
    wanted = set(paths)
    table: dict[str, DirectRoute] = {}
    for route in (r for router in routers for r in router.routes):
        if isinstance(route, APIRoute) and route.path in wanted and "POST" in (route.methods or ()):
            model = get_type_hints(route.endpoint, include_extras=False)["body"]
            table[route.path] = DirectRoute(route, model, route.endpoint)
    missing = wanted - table.keys()
    if missing:
        raise RuntimeError(f"no POST route with a body for {sorted(missing)}")
    return table


def body_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors located under `body`, as FastAPI reports them."""
    return [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]


async def read_body(receive: Receive, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyGoneError()
        part: bytes = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise GatewayError(Kind.TOO_LARGE, f"request body over {limit} bytes")
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts)


class DirectDispatch:
    def __init__(
        self, app: ASGIApp, fastapi: FastAPI, routes: dict[str, DirectRoute], limit: int
    ) -> None:
        self.app = app
        self.fastapi = fastapi
        self.routes = routes
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        direct = (
            self.routes.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if direct is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = direct.route
        request = Request(scope, receive)
        try:
            response = await self._handle(direct, request, receive)
        except BodyGoneError:
            return
        except Exception as exc:
            response = await self._render(request, exc)
        await response(scope, receive, send)

    async def _handle(self, direct: DirectRoute, request: Request, receive: Receive) -> Response:
        raw = await read_body(receive, self.limit)
        gateway: Gateway = self.fastapi.state.gateway
        principal = await gateway.auth.authenticate(request.headers)
        try:
            body = direct.model.model_validate_json(raw)
        except ValidationError as exc:
            raise RequestValidationError(body_errors(exc)) from exc
        return await direct.handler(body, request, gateway, principal)

    async def _render(self, request: Request, exc: Exception) -> Response:
        """The app's own handler for `exc` (the nearest class in its MRO), as FastAPI
        would pick it."""
        for cls in type(exc).__mro__:
            handler = self.fastapi.exception_handlers.get(cls)
            if handler is not None:
                response = handler(request, exc)
                return await response if inspect.isawaitable(response) else response
        raise exc
