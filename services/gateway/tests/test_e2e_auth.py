"""Credentials: API keys (revocable, expiring, limited to models) and JWTs, as Bearer or
x-api-key, refused once their user is disabled; anonymous access only when enabled."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from jose import jwt
from sqlalchemy import select, update
from sqlalchemy.pool import NullPool

from inference_common.auth import TokenSigner
from inference_common.db import make_engine, make_sessionmaker, unit_of_work
from inference_common.tables import ApiKey, User
from inference_testkit.waiting import async_wait_for

from .conftest import (
    JWT_SECRET,
    MODEL,
    Cluster,
    GatewayFactory,
    Replica,
    RunningGateway,
    create_api_key,
    create_user,
)

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


async def _status(gw: RunningGateway, credential: str) -> int:
    """The model listing needs credentials only: no replica involved."""
    response = await gw.client.get("/v1/models", headers={"Authorization": f"Bearer {credential}"})
    return response.status_code


async def _update_user(database_url: str, user_id: UUID, **values: Any) -> None:
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as db:
            await db.execute(update(User).where(User.id == user_id).values(**values))
    finally:
        await engine.dispose()


async def _last_used(database_url: str, key: str) -> datetime | None:
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as db:
            prefix = key.split("_")[1]
            return (
                await db.execute(select(ApiKey.last_used_at).where(ApiKey.prefix == prefix))
            ).scalar_one()
    finally:
        await engine.dispose()


async def test_tokens_without_audience_or_issuer_are_refused(
    gateway_factory: GatewayFactory, cluster: Cluster
) -> None:
    gw = await gateway_factory()
    assert await _status(gw, gw.token) == 200
    claims = jwt.get_unverified_claims(gw.token)
    for missing in ("aud", "iss"):
        forged = jwt.encode(
            {k: v for k, v in claims.items() if k != missing}, JWT_SECRET, algorithm="HS256"
        )
        assert await _status(gw, forged) == 401, missing
    other_audience = TokenSigner(JWT_SECRET, audience="elsewhere").issue(claims["sub"], "t", "user")
    assert await _status(gw, other_audience) == 401


async def test_disabled_users_are_refused_within_the_cache_time(
    gateway_factory: GatewayFactory, cluster: Cluster, database_url: str
) -> None:
    cache_seconds = 1.0
    gw = await gateway_factory(GATEWAY_AUTH_CACHE_SECONDS=cache_seconds)
    user_id = await create_user(database_url)
    token = TokenSigner(JWT_SECRET).issue(str(user_id), "t", "user")
    key = await create_api_key(database_url, user_id=user_id)
    assert [await _status(gw, token), await _status(gw, key)] == [200, 200]

    await _update_user(database_url, user_id, is_active=False)
    disabled = time.monotonic()

    async def both_refused() -> bool:
        return [await _status(gw, token), await _status(gw, key)] == [401, 401]

    await async_wait_for(both_refused, timeout=10, interval=0.1, what="disabled user refused")
    assert time.monotonic() - disabled < cache_seconds + 1.0

    await _update_user(database_url, user_id, is_active=True)
    await async_wait_for(
        lambda: _accepted(gw, token), timeout=10, interval=0.1, what="enabled again"
    )


async def _accepted(gw: RunningGateway, credential: str) -> bool:
    return await _status(gw, credential) == 200


async def test_a_missing_user_token_is_refused(
    gateway_factory: GatewayFactory, cluster: Cluster
) -> None:
    gw = await gateway_factory()
    ghost = TokenSigner(JWT_SECRET).issue("11111111-1111-4111-8111-111111111111", "g", "user")
    assert await _status(gw, ghost) == 401


async def test_tokens_older_than_a_password_change_are_refused(
    gateway_factory: GatewayFactory, cluster: Cluster, database_url: str
) -> None:
    gw = await gateway_factory()
    user_id = await create_user(database_url)
    old = TokenSigner(JWT_SECRET).issue(str(user_id), "t", "user")
    await _update_user(
        database_url, user_id, password_changed_at=datetime.now(UTC) + timedelta(milliseconds=5)
    )
    assert await _status(gw, old) == 401
    new = TokenSigner(JWT_SECRET).issue(
        str(user_id), "t", "user", now=datetime.now(UTC) + timedelta(seconds=1)
    )
    assert await _status(gw, new) == 200


async def test_expired_keys_are_refused_and_never_cached_past_expiry(
    gateway_factory: GatewayFactory, cluster: Cluster, database_url: str
) -> None:
    gw = await gateway_factory(GATEWAY_AUTH_CACHE_SECONDS=60)
    expired = await create_api_key(
        database_url, expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    assert await _status(gw, expired) == 401
    lifetime = 3.0
    expiring = await create_api_key(
        database_url, expires_at=datetime.now(UTC) + timedelta(seconds=lifetime)
    )
    created = time.monotonic()
    assert await _status(gw, expiring) == 200

    async def refused() -> bool:
        return await _status(gw, expiring) == 401

    await async_wait_for(refused, timeout=20, interval=0.1, what="expired key refused")
    assert time.monotonic() - created < lifetime + 2.0  # not the 60 s cache time


async def test_key_use_is_recorded(
    gateway_factory: GatewayFactory, cluster: Cluster, database_url: str
) -> None:
    gw = await gateway_factory()
    key = await create_api_key(database_url)
    assert await _last_used(database_url, key) is None
    before = datetime.now(UTC)
    assert await _status(gw, key) == 200

    async def recorded() -> datetime | None:
        return await _last_used(database_url, key)

    used = await async_wait_for(recorded, timeout=10, interval=0.1, what="last_used_at")
    assert before - timedelta(seconds=5) <= used <= datetime.now(UTC) + timedelta(seconds=5)
