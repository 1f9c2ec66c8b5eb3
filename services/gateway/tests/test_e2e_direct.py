"""The POST endpoints as PostEndpoint serves them, through a real gateway over TCP:
body limit (declared and chunked), bad JSON, validation and credentials each in the API's
own error shape, and request metrics under the route's template."""

from __future__ import annotations

from collections.abc import AsyncIterator

from .conftest import MODEL, GatewayFactory, RunningGateway

LIMIT = 4096


async def _chunks(total: int, size: int = 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


async def test_body_over_the_limit_is_413_declared_or_chunked(
    gateway_factory: GatewayFactory,
) -> None:
    gw: RunningGateway = await gateway_factory(GATEWAY_MAX_BODY_BYTES=LIMIT)
    declared = await gw.client.post(
        "/v1/chat/completions", headers=gw.auth, content=b" " * (LIMIT + 1)
    )
    assert declared.status_code == 413
    assert f"over {LIMIT} bytes" in declared.json()["error"]["message"]

    chunked = await gw.client.post(
        "/v1/chat/completions", headers=gw.auth, content=_chunks(LIMIT * 4)
    )
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413
    assert f"over {LIMIT} bytes" in chunked.json()["error"]["message"]

    ollama = await gw.client.post("/api/chat", headers=gw.auth, content=_chunks(LIMIT * 4))
    assert ollama.status_code == 413
    assert f"over {LIMIT} bytes" in ollama.json()["error"]


async def test_bad_json_and_bad_fields_name_the_problem(gateway: RunningGateway) -> None:
    bad_json = await gateway.client.post(
        "/v1/completions", headers=gateway.auth, content=b'{"model": '
    )
    assert bad_json.status_code == 400
    error = bad_json.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "JSON" in error["message"]

    bad_field = await gateway.client.post(
        "/api/generate", headers=gateway.auth, json={"model": MODEL, "prompt": 5}
    )
    assert bad_field.status_code == 400
    assert bad_field.json()["error"].startswith("prompt:")

    tgi = await gateway.client.post("/generate", headers=gateway.auth, json={"inputs": []})
    assert tgi.status_code == 422
    assert tgi.json()["error_type"] == "validation"


async def test_missing_credentials_are_refused_before_the_body_is_used(
    gateway: RunningGateway,
) -> None:
    response = await gateway.client.post(
        "/v1/messages",
        json={"model": MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert response.headers["x-request-id"]


async def test_direct_requests_are_counted_under_their_route(gateway: RunningGateway) -> None:
    response = await gateway.client.post(
        "/v1/completions",
        headers={**gateway.auth, "x-request-id": "direct-metrics-1"},
        json={"model": MODEL, "prompt": "a", "max_tokens": 1},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "direct-metrics-1"
    metrics = (await gateway.client.get("/metrics")).text
    assert (
        'http_requests_total{method="POST",route="/v1/completions",service="gateway",'
        'status="200"}' in metrics
    )


async def test_routed_posts_are_counted_under_their_route_too(gateway: RunningGateway) -> None:
    response = await gateway.client.post(
        "/api/show", headers={**gateway.auth, "content-type": "text/plain"}, json={"model": MODEL}
    )
    assert response.status_code == 200, response.text
    metrics = (await gateway.client.get("/metrics")).text
    assert (
        'http_requests_total{method="POST",route="/api/show",service="gateway",'
        'status="200"}' in metrics
    )
