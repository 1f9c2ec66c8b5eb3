"""Credentials: API keys (revocable, limited to models) and JWTs, as Bearer or x-api-key;
anonymous access only when enabled."""

from __future__ import annotations

import pytest

from .conftest import MODEL, Cluster, GatewayFactory, Replica, RunningGateway, create_api_key

CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}


@pytest.mark.parametrize(
    ("path", "body", "shape"),
    [
        ("/v1/chat/completions", CHAT, lambda b: b["error"]["code"] == "invalid_api_key"),
        (
            "/v1/messages",
            {**CHAT, "max_tokens": 1},
            lambda b: b["error"]["type"] == "authentication_error",
        ),
        ("/api/chat", {"model": MODEL, "messages": []}, lambda b: isinstance(b["error"], str)),
        ("/generate", {"inputs": "x"}, lambda b: b["error_type"] == "authentication"),
    ],
)
async def test_missing_credentials_are_401_in_each_api_shape(
    gateway: RunningGateway, path: str, body: dict[str, object], shape: object
) -> None:
    response = await gateway.client.post(path, json=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert shape(response.json())  # type: ignore[operator]


async def test_bad_tokens_are_rejected(gateway: RunningGateway) -> None:
    for header in (
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"x-api-key": "isk_deadbeef_wrong"},
        {"Authorization": "Bearer isk_x_y"},
    ):
        response = await gateway.client.post("/v1/chat/completions", headers=header, json=CHAT)
        assert response.status_code == 401, header


async def test_api_keys_bearer_and_x_api_key(gateway: RunningGateway, database_url: str) -> None:
    key = await create_api_key(database_url)
    for header in ({"Authorization": f"Bearer {key}"}, {"x-api-key": key}):
        response = await gateway.client.post("/v1/chat/completions", headers=header, json=CHAT)
        assert response.status_code == 200, response.text


async def test_revoked_key_is_rejected(gateway: RunningGateway, database_url: str) -> None:
    key = await create_api_key(database_url, revoked=True)
    response = await gateway.client.post(
        "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json=CHAT
    )
    assert response.status_code == 401


async def test_key_limited_to_models(
    cluster: Cluster,
    replicas: list[Replica],
    gateway_factory: GatewayFactory,
    database_url: str,
) -> None:
    cluster.serve("one", "one:1b", [replicas[0].ip])
    cluster.serve("two", "two:1b", [replicas[1].ip])
    gw = await gateway_factory()
    await gw.wait_routable("one:1b")
    await gw.wait_routable("two:1b")
    key = await create_api_key(database_url, allowed_models=["two:1b"])
    auth = {"Authorization": f"Bearer {key}"}
    denied = await gw.client.post(
        "/v1/chat/completions", headers=auth, json={**CHAT, "model": "one:1b"}
    )
    assert denied.status_code == 403
    assert denied.json()["error"]["type"] == "permission_error"
    allowed = await gw.client.post(
        "/v1/chat/completions", headers=auth, json={**CHAT, "model": "two:1b"}
    )
    assert allowed.status_code == 200
    # listings and the default model only show what the key may use
    models = (await gw.client.get("/v1/models", headers=auth)).json()
    assert [m["id"] for m in models["data"]] == ["two:1b"]
    default = await gw.client.post(
        "/v1/chat/completions", headers=auth, json={"messages": CHAT["messages"], "max_tokens": 1}
    )
    assert default.json()["model"] == "two:1b"


async def test_anonymous_only_when_enabled(
    cluster: Cluster, replicas: list[Replica], gateway_factory: GatewayFactory
) -> None:
    cluster.serve("anon", MODEL, [replicas[0].ip])
    gw = await gateway_factory(GATEWAY_ALLOW_ANONYMOUS=True)
    await gw.wait_routable(MODEL)
    response = await gw.client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200
