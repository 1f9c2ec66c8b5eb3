"""Authentication before the body: a request with a body to a route that needs a user is
refused (401) unless its bearer token verifies, before any of the body is read.

FastAPI parses a route's body parameter before it resolves the route's dependencies, so
`current_user` alone would let an anonymous client make the API read (up to the body
limit) and parse a JSON body first. The token is checked here from the headers only
(signature and expiry); `current_user` still loads the user and checks it is active.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from inference_api.state import AppState
from inference_common.errors import UnauthorizedError
from inference_common.web import error_response

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

Operation = tuple[str, re.Pattern[str]]


def operations_needing_a_user(openapi: dict[str, Any]) -> list[Operation]:
    """(method, path regex) of the operations with a body method and a security
    requirement (the bearer scheme of `current_user`), from the app's OpenAPI document."""
    found: list[Operation] = []
    for path, item in openapi.get("paths", {}).items():
        for method, operation in item.items():
            if method.upper() in _BODY_METHODS and operation.get("security"):
                regex, _, _ = compile_path(path)
                found.append((method.upper(), regex))
    return found


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class AuthBeforeBodyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._protected: list[Operation] | None = None

    def _needs_a_user(self, scope: Scope) -> bool:
        if self._protected is None:  # the routes are all known once requests arrive
            self._protected = operations_needing_a_user(scope["app"].openapi())
        method, path = scope["method"], scope["path"]
        return any(m == method and regex.match(path) for m, regex in self._protected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or not _has_body(scope)
            or not self._needs_a_user(scope)
        ):
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        message = "missing bearer token"
        if token is not None:
            state: AppState = scope["app"].state.services
            try:
                state.authenticator.signer.verify(token)
            except UnauthorizedError as exc:
                message = exc.message
            else:
                await self.app(scope, receive, send)
                return
        headers = {"WWW-Authenticate": "Bearer"}
        await error_response(401, "unauthorized", message, None, headers)(scope, receive, send)
