"""The UI server over real sockets: responses stream (an SSE event arrives while the upstream
is still sending), bodies stream upstream, a dead upstream is a 502 in the platform's error
shape, app routes get index.html with the security headers, an optional service is routed
only when configured and `/_/config` says which are. The upstream is a small local
ASGI app standing in for "any HTTP service" (the proxy is what is tested here)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from inference_localstack.ui_server import create_app
from inference_testkit.servers import free_port

RELEASE_TIMEOUT = 10.0


class Upstream:
    """Sends one SSE event, then waits until the test releases the rest."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def app(self) -> Starlette:
        async def events(_: Request) -> Response:
            async def body() -> AsyncIterator[bytes]:
                yield b"data: first\n\n"
                await asyncio.to_thread(self.release.wait, RELEASE_TIMEOUT)
                yield b"data: second\n\n"

            return StreamingResponse(body(), media_type="text/event-stream")

        async def echo(request: Request) -> Response:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
            return JSONResponse(
                {
                    "size": size,
                    "path": request.url.path,
                    "query": request.url.query,
                    "authorization": request.headers.get("authorization"),
                }
            )

        return Starlette(
            routes=[
                Route("/v1/stream", events),
                Route("/echo/{rest:path}", echo, methods=["GET", "POST"]),
            ]
        )


def serve(app: Starlette, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    return server


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
def ui(tmp_path: Path, upstream: Upstream) -> Iterator[str]:
    (tmp_path / "index.html").write_text("<!doctype html><title>ui</title>")
    up_port, ui_port = free_port(), free_port()
    up = serve(upstream.app(), up_port)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    up_url = f"http://127.0.0.1:{up_port}"
    front = serve(create_app(tmp_path, dead, up_url, contract_url=up_url), ui_port)
    yield f"http://127.0.0.1:{ui_port}"
    upstream.release.set()
    front.should_exit = True
    up.should_exit = True


def test_server_sent_events_stream_through(ui: str, upstream: Upstream) -> None:
    with (
        httpx.Client(timeout=RELEASE_TIMEOUT) as http,
        http.stream("GET", f"{ui}/_/gateway/v1/stream") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = response.iter_bytes()
        assert next(chunks) == b"data: first\n\n"  # before the upstream has finished
        assert not upstream.release.is_set()
        upstream.release.set()
        assert b"".join(chunks) == b"data: second\n\n"


def test_request_bodies_paths_queries_and_credentials_pass(ui: str) -> None:
    body = b"x" * (3 * 1024 * 1024 + 7)
    response = httpx.post(
        f"{ui}/_/gateway/echo/a/b",
        params={"name": "m:1"},
        content=iter([body[:1000], body[1000:]]),
        headers={"Authorization": "Bearer t"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json() == {
        "size": len(body),
        "path": "/echo/a/b",
        "query": "name=m%3A1",
        "authorization": "Bearer t",
    }
    assert "access-control-allow-origin" not in response.headers


def test_an_unreachable_upstream_is_a_502_in_the_error_shape(ui: str) -> None:
    response = httpx.get(f"{ui}/_/api/health", timeout=10)
    assert response.status_code == 502
    assert response.json()["error"] == {
        "type": "bad_gateway",
        "message": "the API is unreachable",
        "detail": None,
    }


@pytest.mark.parametrize("path", ["/", "/servers", "/playground?x=1"])
def test_app_routes_get_index_html_with_security_headers(ui: str, path: str) -> None:
    response = httpx.get(f"{ui}{path}", timeout=10)
    assert response.status_code == 200
    assert "<title>ui</title>" in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/assets/missing.js", "/_/nothing/here"])
def test_missing_assets_and_unknown_prefixes_are_404(ui: str, path: str) -> None:
    response = httpx.get(f"{ui}{path}", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


def test_a_configured_optional_service_is_routed(ui: str) -> None:
    response = httpx.get(f"{ui}/_/contract/echo/usage/users/ann", timeout=10)
    assert response.status_code == 200
    assert response.json()["path"] == "/echo/usage/users/ann"


def test_an_unconfigured_service_is_404_and_config_says_which_exist(ui: str) -> None:
    missing = httpx.get(f"{ui}/_/download/downloads", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"
    config = httpx.get(f"{ui}/_/config", timeout=10)
    assert config.status_code == 200
    assert config.json() == {
        "services": {"api": True, "gateway": True, "contract": True, "download": False}
    }
