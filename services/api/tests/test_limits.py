"""Limits before work, through the real API process: request bodies are counted while they
stream and refused at their route's limit (413) before any of it is parsed, routes that need
a user authenticate before reading, and the process does not grow with what it refuses."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inference_api.settings import ApiSettings
from inference_testkit.rawhttp import post_large_body, rss_bytes

from .conftest import ADMIN
from .process import ApiServer, api_server

HUGE = 256 * 1024 * 1024
MiB = 1024 * 1024
# What the process may grow by while refusing a 256 MiB body (allocator noise, buffers).
RSS_GROWTH_LIMIT = 8 * MiB


@pytest.fixture
def server(api_settings: ApiSettings, tmp_path: Path) -> Iterator[ApiServer]:
    with api_server(api_settings, tmp_path / "api.log") as running:
        yield running


async def _bearer(server: ApiServer, settings: ApiSettings) -> dict[str, str]:
    assert settings.admin_password is not None
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/auth/token",
            json={"username": ADMIN, "password": settings.admin_password.get_secret_value()},
        )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/auth/token", {"content-type": "application/json"}, 413),
        ("/auth/token", {"content-type": "application/x-www-form-urlencoded"}, 413),
        ("/serve", {"content-type": "application/json"}, 401),  # before FastAPI reads it
        ("/serve", {"content-type": "application/json", "authorization": "Bearer x.y.z"}, 401),
        ("/users", {"content-type": "application/json"}, 401),
        ("/models?name=huge", {"content-type": "application/octet-stream"}, 401),
    ],
)
async def test_unauthenticated_huge_chunked_bodies_are_refused_early(
    server: ApiServer, path: str, headers: dict[str, str], status: int
) -> None:
    # Warm up (first requests allocate caches), then measure.
    await post_large_body(server.url, path, 4 * MiB, headers)
    rss_before = rss_bytes(server.pid)
    response = await post_large_body(server.url, path, HUGE, headers)
    growth = rss_bytes(server.pid) - rss_before

    assert response.status == status, response.body
    assert response.sent < HUGE // 4, "the server read (most of) the body before answering"
    assert growth < RSS_GROWTH_LIMIT, f"RSS grew by {growth / MiB:.1f} MiB"
    kind = b'"payload_too_large"' if status == 413 else b'"unauthorized"'
    assert kind in response.body


@pytest.mark.parametrize("path", ["/auth/token", "/models?name=huge"])
async def test_a_declared_length_over_the_limit_is_refused_before_the_body(
    server: ApiServer, api_settings: ApiSettings, path: str
) -> None:
    headers = {"content-type": "application/json"}
    if path.startswith("/models"):
        headers = {**await _bearer(server, api_settings), "content-type": "application/gguf"}
    declared = api_settings.max_upload_bytes + 1 if path.startswith("/models") else HUGE
    response = await post_large_body(
        server.url, path, declared, headers, chunked=False, send_body=False, timeout=10
    )
    assert response.status == 413, response.body
    assert response.sent == 0
    assert b'"payload_too_large"' in response.body


async def test_an_authenticated_huge_json_body_stops_at_the_limit(
    server: ApiServer, api_settings: ApiSettings
) -> None:
    headers = {**await _bearer(server, api_settings), "content-type": "application/json"}
    response = await post_large_body(server.url, "/serve", HUGE, headers)
    assert response.status == 413, response.body
    assert response.sent < HUGE // 4


async def test_json_bodies_within_the_limit_still_work(
    server: ApiServer, api_settings: ApiSettings
) -> None:
    headers = await _bearer(server, api_settings)
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
        created = await client.post(
            "/api-keys", json={"name": f"k-{secrets.token_hex(3)}", "allowed_models": None}
        )
        too_big = await client.post(
            "/api-keys", json={"name": "x", "allowed_models": ["m" * 100] * 1000}
        )
    assert created.status_code == 201, created.text
    assert too_big.status_code == 413
    assert too_big.json()["error"]["type"] == "payload_too_large"
