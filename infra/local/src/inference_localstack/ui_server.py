"""The web UI's one origin (FRONTEND_URL): the built UI's files, and the services under path
prefixes that collide with none of their own paths (the gateway's Ollama API owns `/api/*`):
`/_/api/…` → API_URL, `/_/gateway/…` → GATEWAY_URL, and when configured `/_/contract/…` →
CONTRACT_URL and `/_/download/…` → DOWNLOAD_URL. `GET /_/config` tells the app which services
exist (the pages of a missing one stay hidden).

Requests and responses stream both ways (uploads of many GB, server-sent events), so the UI
needs no CORS at all. Run: `python -m inference_localstack.ui_server --port 5173 --dist
frontend/dist --api-url … --gateway-url … [--contract-url …] [--download-url …]`.
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
from inference_common.logging import configure_logging

logger = logging.getLogger(__name__)

SERVICE_PREFIX = "/_/"
CONFIG_PATH = "/_/config"
SERVICE_NAMES = {
    "api": "API",
    "gateway": "gateway",
    "contract": "contract service",
    "download": "download service",
}
"""Every service the UI may talk to, each under `/_/<key>/`; the API and the gateway always."""
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


def is_proxied(url_path: str) -> bool:
    """Whether a path goes to a service (those answer with their own headers) (pure)."""
    return any(url_path.startswith(f"{SERVICE_PREFIX}{name}/") for name in SERVICE_NAMES)


def service_config(upstreams: dict[str, str]) -> dict[str, object]:
    """What `GET /_/config` answers: which services this origin reaches (pure)."""
    return {"services": {name: name in upstreams for name in SERVICE_NAMES}}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_proxied(scope["path"]):
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


def create_app(
    dist: Path,
    api_url: str,
    gateway_url: str,
    *,
    contract_url: str | None = None,
    download_url: str | None = None,
) -> Starlette:
    configured = {
        "api": api_url,
        "gateway": gateway_url,
        "contract": contract_url,
        "download": download_url,
    }
    upstreams = {name: url.rstrip("/") for name, url in configured.items() if url}
    clients: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        for name, base in upstreams.items():
            clients[name] = httpx.AsyncClient(base_url=base, timeout=TIMEOUT, trust_env=False)
        try:
            yield
        finally:
            for client in clients.values():
                await client.aclose()

    def proxy(name: str) -> Route:
        async def forward(request: Request) -> Response:
            client = clients[name]
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
                logger.warning("%s unreachable: %s", upstreams[name], exc)
                return JSONResponse(
                    error_body("bad_gateway", f"the {SERVICE_NAMES[name]} is unreachable"),
                    status_code=502,
                )
            return StreamingResponse(
                response.aiter_raw(),
                status_code=response.status_code,
                headers=dict(forward_headers(response.headers.raw)),
                background=BackgroundTask(response.aclose),
            )

        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return Route(f"{SERVICE_PREFIX}{name}/{{path:path}}", forward, methods=methods)

    async def config(_: Request) -> Response:
        return JSONResponse(service_config(upstreams), headers={"cache-control": "no-cache"})

    async def static(request: Request) -> Response:
        url_path = request.url.path
        target = static_target(dist, url_path)
        if target is None and (url_path.startswith("/assets/") or url_path.startswith("/_/")):
            return JSONResponse(error_body("not_found", "no such file"), status_code=404)
        target = target or dist / "index.html"
        return FileResponse(target, headers={"cache-control": cache_control(url_path)})

    app = Starlette(
        routes=[
            *(proxy(name) for name in upstreams),
            Route(CONFIG_PATH, config),
            Route("/{path:path}", static),
        ],
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
    parser.add_argument("--contract-url", help="the contract service (quotas page)")
    parser.add_argument("--download-url", help="the download service (imports page)")
    args = parser.parse_args(argv)
    if not (args.dist / "index.html").is_file():
        parser.error(f"{args.dist}/index.html is missing: build the UI first (npm run build)")
    app = create_app(
        args.dist.resolve(),
        args.api_url,
        args.gateway_url,
        contract_url=args.contract_url,
        download_url=args.download_url,
    )
    configure_logging("WARNING")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
