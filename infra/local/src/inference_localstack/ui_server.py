"""The web UI's one origin (FRONTEND_URL): the built UI's files, and the API and the gateway
under path prefixes that collide with none of their own paths (the gateway's Ollama API owns
`/api/*`): `/_/api/…` → API_URL, `/_/gateway/…` → GATEWAY_URL.

Requests and responses stream both ways (uploads of many GB, server-sent events), so the UI
needs no CORS at all. Run: `python -m inference_localstack.ui_server --port 5173 --dist
frontend/dist --api-url … --gateway-url …`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference_common.errors import error_body

logger = logging.getLogger(__name__)

API_PREFIX = "/_/api"
GATEWAY_PREFIX = "/_/gateway"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
TIMEOUT = httpx.Timeout(connect=5.0, read=None, write=None, pool=10.0)
"""No read limit: a stream may be quiet while a model loads; the services time out themselves."""


def forward_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Request or response headers without hop-by-hop ones (pure)."""
    return [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in headers
        if k.decode("latin-1").lower() not in HOP_BY_HOP
    ]


def static_target(dist: Path, url_path: str) -> Path | None:
    """The file under `dist` a URL path names, or None (then the app's index.html answers,
    so deep links into the single-page app work). Never a path outside `dist` (pure)."""
    parts = [p for p in PurePosixPath(url_path).parts if p not in {"/", ""}]
    if any(p in {".", ".."} or "\\" in p for p in parts):
        return None
    candidate = dist.joinpath(*parts) if parts else dist / "index.html"
    return candidate if candidate.is_file() else None


def cache_control(url_path: str) -> str:
    """Hashed build assets forever; everything else (index.html) revalidated."""
    return "public, max-age=31536000, immutable" if url_path.startswith("/assets/") else "no-cache"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/_/api", "/_/gateway")):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k.encode(), v.encode())
                    for k, v in SECURITY_HEADERS.items()
                    if k.encode() not in present
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(dist: Path, api_url: str, gateway_url: str) -> Starlette:
    upstreams = {API_PREFIX: api_url.rstrip("/"), GATEWAY_PREFIX: gateway_url.rstrip("/")}
    clients: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        for prefix, base in upstreams.items():
            clients[prefix] = httpx.AsyncClient(base_url=base, timeout=TIMEOUT, trust_env=False)
        try:
            yield
        finally:
            for client in clients.values():
                await client.aclose()

    def proxy(prefix: str) -> Route:
        async def forward(request: Request) -> Response:
            client = clients[prefix]
            path = "/" + request.path_params.get("path", "")
            upstream = client.build_request(
                request.method,
                httpx.URL(path=path, query=request.url.query.encode("latin-1")),
                headers=[*forward_headers(request.headers.raw), ("x-forwarded-proto", "http")],
                content=request.stream() if request.method not in {"GET", "HEAD"} else None,
            )
            try:
                response = await client.send(upstream, stream=True)
            except httpx.HTTPError as exc:
                logger.warning("%s unreachable: %s", upstreams[prefix], exc)
                name = "API" if prefix == API_PREFIX else "gateway"
                return JSONResponse(
                    error_body("bad_gateway", f"the {name} is unreachable"), status_code=502
                )
            return StreamingResponse(
                response.aiter_raw(),
                status_code=response.status_code,
                headers=dict(forward_headers(response.headers.raw)),
                background=BackgroundTask(response.aclose),
            )

        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return Route(f"{prefix}/{{path:path}}", forward, methods=methods)

    async def static(request: Request) -> Response:
        url_path = request.url.path
        target = static_target(dist, url_path)
        if target is None and (url_path.startswith("/assets/") or url_path.startswith("/_/")):
            return JSONResponse(error_body("not_found", "no such file"), status_code=404)
        target = target or dist / "index.html"
        return FileResponse(target, headers={"cache-control": cache_control(url_path)})

    app = Starlette(
        routes=[proxy(API_PREFIX), proxy(GATEWAY_PREFIX), Route("/{path:path}", static)],
        lifespan=lifespan,
    )
    app.add_middleware(SecurityHeaders)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5173)
    parser.add_argument("--dist", type=Path, required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--gateway-url", required=True)
    args = parser.parse_args(argv)
    if not (args.dist / "index.html").is_file():
        parser.error(f"{args.dist}/index.html is missing: build the UI first (npm run build)")
    app = create_app(args.dist.resolve(), args.api_url, args.gateway_url)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
