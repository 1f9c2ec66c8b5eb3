"""The shared web pieces on a small app of their own: outages answered 503 in the one error
shape with Retry-After, other failures 500 without a traceback, request bodies limited
while they stream."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from fastapi import FastAPI, Request
from prometheus_client import generate_latest
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc

from inference_common.logging import JsonFormatter, request_fields
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


class JsonLines(logging.Handler):
    """Collects records as the platform formats them, at emit time (inside the request)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logged() -> Iterator[JsonLines]:
    handler = JsonLines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("req-1.a_B", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("two words", False),
        ("a/b", False),
        ("", False),
    ],
)
async def test_a_well_formed_request_id_is_kept_else_replaced(
    web: httpx.AsyncClient, sent: str, kept: bool
) -> None:
    response = await web.post("/items", json={"name": "a"}, headers={"x-request-id": sent})
    returned = response.headers["x-request-id"]
    if kept:
        assert returned == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", returned)


async def test_a_bug_answers_and_logs_with_the_request_id(
    web: httpx.AsyncClient, logged: JsonLines
) -> None:
    response = await web.get("/bug", headers={"x-request-id": "req-bug"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-bug"
    entries = [json.loads(line) for line in logged.lines]
    failure = [e for e in entries if e["message"] == "unhandled error"]
    assert len(failure) == 1
    assert failure[0]["request_id"] == "req-bug"
    assert "secret internals" in failure[0]["exc"]


async def test_access_log_line_per_request_with_the_apps_fields(logged: JsonLines) -> None:
    app = FastAPI()
    install_common(app, "test-access", access_log=True)

    @app.get("/thing")
    async def thing() -> dict[str, str]:
        request_fields()["model"] = "m1"
        return {}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as http:
        await http.get("/thing", headers={"x-request-id": "req-access"})
        await http.get("/metrics")
    access = [json.loads(line) for line in logged.lines]
    access = [e for e in access if e["logger"] == "inference.access"]
    assert len(access) == 1  # no line for the scrape
    entry = access[0]
    assert {k: entry[k] for k in ("request_id", "method", "path", "status", "model")} == {
        "request_id": "req-access",
        "method": "GET",
        "path": "/thing",
        "status": 200,
        "model": "m1",
    }
    assert entry["duration_ms"] >= 0
    assert {"time", "level", "message"} <= entry.keys()


async def test_metrics_off_means_no_endpoint() -> None:
    app = FastAPI()
    install_common(app, "test-no-metrics", metrics=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as http:
        assert (await http.get("/metrics")).status_code == 404
    assert 'service="test-no-metrics"' not in generate_latest().decode()
