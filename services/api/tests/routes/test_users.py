"""Disabling users and changing passwords: what stops working, and what keeps working."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from ..conftest import ADMIN, Api


async def _new_user(api: Api) -> tuple[str, str, dict[str, str]]:
    """username, password, their headers."""
    username = f"user-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    created = await api.client.post(
        "/users",
        json={"username": username, "password": password},
        headers=await api.admin(),
    )
    assert created.status_code == 201, created.text
    return username, password, await api.auth(username, password)


async def _login(api: Api, username: str, password: str) -> int:
    response = await api.client.post(
        "/auth/token", json={"username": username, "password": password}
    )
    return response.status_code


async def test_a_disabled_user_cannot_log_in_or_use_their_token(api: Api) -> None:
    username, password, headers = await _new_user(api)
    admin = await api.admin()
    assert (await api.client.get("/users/me", headers=headers)).status_code == 200

    disabled = await api.client.patch(f"/users/{username}", json={"disabled": True}, headers=admin)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["is_active"] is False
    assert disabled.json()["disabled_at"] is not None

    refused = await api.client.get("/users/me", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "unauthorized"
    assert await _login(api, username, password) == 401

    enabled = await api.client.patch(f"/users/{username}", json={"disabled": False}, headers=admin)
    assert enabled.status_code == 200
    assert enabled.json()["is_active"] is True
    assert enabled.json()["disabled_at"] is None
    assert await _login(api, username, password) == 200
    assert (await api.client.get("/users/me", headers=headers)).status_code == 200


async def test_only_admins_disable_and_not_themselves(api: Api) -> None:
    username, _, headers = await _new_user(api)
    other, _, _ = await _new_user(api)
    forbidden = await api.client.patch(f"/users/{other}", json={"disabled": True}, headers=headers)
    assert forbidden.status_code == 403
    admin = await api.admin()
    itself = await api.client.patch(f"/users/{ADMIN}", json={"disabled": True}, headers=admin)
    assert itself.status_code == 409
    assert itself.json()["error"]["type"] == "conflict"
    missing = await api.client.patch("/users/nobody-here", json={"disabled": True}, headers=admin)
    assert missing.status_code == 404
    for body in ({}, {"disabled": "maybe"}, {"disabled": True, "role": "admin"}):
        bad = await api.client.patch(f"/users/{username}", json=body, headers=admin)
        assert bad.status_code == 422, body
        assert set(bad.json()["error"]) == {"type", "message", "detail"}


async def test_changing_the_password_refuses_older_tokens(api: Api) -> None:
    username, password, headers = await _new_user(api)
    before = datetime.now(UTC) - timedelta(seconds=1)
    new_password = secrets.token_urlsafe(16)

    wrong = await api.client.post(
        "/users/me/password",
        json={"current_password": "not-the-password", "new_password": new_password},
        headers=headers,
    )
    assert wrong.status_code == 403
    weak = await api.client.post(
        "/users/me/password",
        json={"current_password": password, "new_password": "short"},
        headers=headers,
    )
    assert weak.status_code == 422
    assert (await api.client.get("/users/me", headers=headers)).status_code == 200

    changed = await api.client.post(
        "/users/me/password",
        json={"current_password": password, "new_password": new_password},
        headers=headers,
    )
    assert changed.status_code == 204, changed.text
    old_token = await api.client.get("/users/me", headers=headers)
    assert old_token.status_code == 401
    assert "password was changed" in old_token.json()["error"]["message"]
    assert await _login(api, username, password) == 401
    fresh = await api.auth(username, new_password)
    me = await api.client.get("/users/me", headers=fresh)
    assert me.status_code == 200
    assert datetime.fromisoformat(me.json()["password_changed_at"]) > before


async def test_an_admin_resets_a_password(api: Api) -> None:
    username, password, headers = await _new_user(api)
    _, _, other = await _new_user(api)
    new_password = secrets.token_urlsafe(16)
    forbidden = await api.client.post(
        f"/users/{username}/password", json={"new_password": new_password}, headers=other
    )
    assert forbidden.status_code == 403
    reset = await api.client.post(
        f"/users/{username}/password",
        json={"new_password": new_password},
        headers=await api.admin(),
    )
    assert reset.status_code == 204, reset.text
    assert (await api.client.get("/users/me", headers=headers)).status_code == 401
    assert await _login(api, username, password) == 401
    assert await _login(api, username, new_password) == 200
    missing = await api.client.post(
        "/users/nobody-here/password",
        json={"new_password": new_password},
        headers=await api.admin(),
    )
    assert missing.status_code == 404
