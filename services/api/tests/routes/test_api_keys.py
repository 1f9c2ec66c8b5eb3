from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import select

from inference_common.auth import api_key_matches, api_key_prefix
from inference_common.db import unit_of_work
from inference_common.tables import ApiKey

from ..conftest import Api


async def test_api_key_lifecycle(api: Api) -> None:
    user_id, alice = await api.new_user()
    _, bob = await api.new_user()

    created = await api.client.post(
        "/api-keys",
        json={"name": "ci", "allowed_models": ["smollm2:135m", "smollm2:135m", "qwen:7b"]},
        headers=alice,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert api_key_prefix(key) == body["prefix"]
    assert body["allowed_models"] == ["qwen:7b", "smollm2:135m"]

    # Stored as prefix + SHA-256 only: what the gateway looks up and checks.
    async with unit_of_work(api.state.sessions) as session:
        row = (
            await session.execute(select(ApiKey).where(ApiKey.id == UUID(body["id"])))
        ).scalar_one()
    assert row.user_id == UUID(user_id)
    assert row.prefix == body["prefix"]
    assert api_key_matches(key, row.key_hash)
    assert key not in row.key_hash
    assert row.revoked_at is None

    listed = (await api.client.get("/api-keys", headers=alice)).json()
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0]
    assert (await api.client.get("/api-keys", headers=bob)).json() == []

    # Someone else's key is invisible to bob.
    assert (await api.client.delete(f"/api-keys/{body['id']}", headers=bob)).status_code == 404
    revoked = await api.client.delete(f"/api-keys/{body['id']}", headers=alice)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None

    async with unit_of_work(api.state.sessions) as session:
        row = await session.get(ApiKey, UUID(body["id"]))
        assert row is not None
        assert row.revoked_at is not None


async def test_users_admin_only(api: Api) -> None:
    _, alice = await api.new_user()
    assert (await api.client.get("/users", headers=alice)).status_code == 403
    forbidden = await api.client.post(
        "/users",
        json={"username": "mallory", "password": "long-enough-password", "role": "admin"},
        headers=alice,
    )
    assert forbidden.status_code == 403
    admin = await api.admin()
    listed = await api.client.get("/users", headers=admin)
    assert listed.status_code == 200
    duplicate = await api.client.post(
        "/users",
        json={"username": "admin", "password": "long-enough-password"},
        headers=admin,
    )
    assert duplicate.status_code == 409
    weak = await api.client.post(
        "/users", json={"username": "weak", "password": "short"}, headers=admin
    )
    assert weak.status_code == 422


async def test_api_key_expiry(api: Api) -> None:
    _, alice = await api.new_user()
    before = datetime.now(UTC)
    created = await api.client.post(
        "/api-keys", json={"name": "short-lived", "expires_in_days": 30}, headers=alice
    )
    assert created.status_code == 201, created.text
    expires_at = datetime.fromisoformat(created.json()["expires_at"])
    assert before + timedelta(days=30) <= expires_at <= datetime.now(UTC) + timedelta(days=30)
    listed = (await api.client.get("/api-keys", headers=alice)).json()
    assert datetime.fromisoformat(listed[0]["expires_at"]) == expires_at

    forever = await api.client.post("/api-keys", json={"name": "forever"}, headers=alice)
    assert forever.json()["expires_at"] is None
    for days in (0, -1, 3651, "soon"):
        bad = await api.client.post(
            "/api-keys", json={"name": "bad", "expires_in_days": days}, headers=alice
        )
        assert bad.status_code == 422, days


async def test_api_key_rate_limits_are_set_at_creation(api: Api) -> None:
    _, alice = await api.new_user()
    created = await api.client.post(
        "/api-keys",
        json={"name": "ci", "requests_per_minute": 30, "concurrent_requests": 2},
        headers=alice,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["requests_per_minute"], body["tokens_per_minute"]) == (30, None)
    assert body["concurrent_requests"] == 2
    async with unit_of_work(api.state.sessions) as session:
        row = await session.get(ApiKey, UUID(body["id"]))
        assert row is not None
        assert (row.requests_per_minute, row.tokens_per_minute, row.concurrent_requests) == (
            30,
            None,
            2,
        )
    for bad in ({"requests_per_minute": 0}, {"concurrent_requests": -1}):
        refused = await api.client.post("/api-keys", json={"name": "x", **bad}, headers=alice)
        assert refused.status_code == 422, refused.text
