"""The shared web pieces on a small app of their own: outages answered 503 in the one error
shape with Retry-After, other failures 500 without a traceback, request bodies limited
while they stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc

from inference_common.web import install_common
from inference_testkit.servers import free_port

LIMIT = 1024
UPLOAD_LIMIT = 64 * 1024


class Item(BaseModel):
    name: str


def limit_for(method: str, path: str) -> int:
    return UPLOAD_LIMIT if (method, path) == ("POST", "/upload") else LIMIT


def make_app() -> FastAPI:
    app = FastAPI()
    install_common(app, "test-web", body_limit=limit_for)

    @app.get("/pool-timeout")
    async def pool_timeout() -> None:
        raise sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached")

    @app.get("/postgres-down")
    async def postgres_down() -> None:
        await asyncpg.connect(host="127.0.0.1", port=free_port(), user="x", timeout=5)

    @app.get("/bug")
    async def bug() -> None:
        raise ValueError("secret internals")

    @app.post("/items")
    async def items(item: Item) -> dict[str, str]:
        return {"name": item.name}

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    return app


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as client:
        yield client


@pytest.mark.parametrize("path", ["/pool-timeout", "/postgres-down"])
async def test_a_database_outage_is_503_with_retry_after(web: httpx.AsyncClient, path: str) -> None:
    response = await web.get(path)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "error": {
            "type": "unavailable",
            "message": "database unavailable",
            "detail": {"dependency": "database"},
        }
    }


async def test_a_bug_is_500_without_internals(web: httpx.AsyncClient) -> None:
    response = await web.get("/bug")
    assert response.status_code == 500
    assert response.json()["error"] == {
        "type": "internal_error",
        "message": "internal server error",
        "detail": None,
    }
    assert "retry-after" not in response.headers


def _chunks(total: int, size: int = 4096) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        sent = 0
        while sent < total:
            yield b"x" * min(size, total - sent)
            sent += size

    return chunks()


@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        ("/items", LIMIT + 1, 413),
        ("/upload", LIMIT + 1, 200),
        ("/upload", UPLOAD_LIMIT, 200),
        ("/upload", UPLOAD_LIMIT + 1, 413),
    ],
)
async def test_declared_length_over_the_route_limit_is_413(
    web: httpx.AsyncClient, path: str, size: int, status: int
) -> None:
    response = await web.post(path, content=b"{" + b" " * (size - 2) + b"}")
    assert response.status_code == status, response.text
    if status == 413:
        assert response.json()["error"]["type"] == "payload_too_large"
        assert response.json()["error"]["detail"] == {"max_bytes": limit_for("POST", path)}


@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        ("/items", LIMIT + 1, 413),  # not the 400 FastAPI makes of other body errors
        ("/upload", UPLOAD_LIMIT, 200),
        ("/upload", UPLOAD_LIMIT + 1, 413),
        ("/upload", 10 * UPLOAD_LIMIT, 413),
    ],
)
async def test_a_chunked_body_is_counted_while_it_streams(
    web: httpx.AsyncClient, path: str, size: int, status: int
) -> None:
    response = await web.post(
        path, content=_chunks(size), headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    if status == 413:
        assert response.json()["error"]["type"] == "payload_too_large"
        assert str(limit_for("POST", path)) in response.json()["error"]["message"]
    else:
        assert response.json() == {"size": size}


async def test_a_body_within_the_limit_is_read(web: httpx.AsyncClient) -> None:
    response = await web.post("/items", json={"name": "a"})
    assert response.status_code == 200
    assert response.json() == {"name": "a"}
