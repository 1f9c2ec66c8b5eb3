from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt

from inference_common.auth import TokenSigner

from ..conftest import ADMIN, Api, ApiFactory


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _error(body: dict[str, object]) -> dict[str, object]:
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"type", "message", "detail"}
    return error


async def test_login_with_json_and_with_an_oauth2_form(api: Api) -> None:
    password = api.settings.admin_password.get_secret_value()  # type: ignore[union-attr]
    as_json = await api.client.post("/auth/token", json={"username": ADMIN, "password": password})
    as_form = await api.client.post(
        "/auth/token", data={"username": ADMIN, "password": password, "grant_type": "password"}
    )
    for response in (as_json, as_form):
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"access_token", "token_type"}
        assert body["token_type"] == "bearer"
        me = await api.client.get(
            "/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.status_code == 200
        assert me.json()["username"] == ADMIN
        assert me.json()["role"] == "admin"


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": ADMIN, "password": "wrong-password"},
        {"username": "nobody-here", "password": "whatever-password"},
    ],
)
async def test_wrong_credentials_get_401(api: Api, credentials: dict[str, str]) -> None:
    response = await api.client.post("/auth/token", json=credentials)
    assert response.status_code == 401
    assert _error(response.json())["type"] == "unauthorized"


@pytest.mark.parametrize(
    "body", [b"", b"not json", b'{"username": "x"}', b"[]", b'{"username": 1, "password": 2}']
)
async def test_malformed_login_bodies_get_422(api: Api, body: bytes) -> None:
    response = await api.client.post(
        "/auth/token", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    _error(response.json())


def _forged_tokens(api: Api, user_id: str) -> dict[str, str]:
    """Each token is the real user's but for one flaw, so the flaw is what refuses it."""
    secret = api.settings.jwt_secret.get_secret_value()
    signer = TokenSigner(secret)
    valid = signer.issue(user_id, ADMIN, "admin")
    header, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    now = datetime.now(UTC)
    expired = signer.issue(claims["sub"], ADMIN, "admin", now=now - timedelta(hours=2))
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    tampered_claims = dict(claims, role="admin", name="someone-else")
    return {
        "alg none": f"{none_header}.{payload}.",
        "expired": expired,
        "tampered": f"{header}.{_b64(json.dumps(tampered_claims).encode())}.{signature}",
        "wrong key": TokenSigner("another-secret-" * 4).issue(claims["sub"], ADMIN, "admin"),
        "wrong audience": jwt.encode(dict(claims, aud="other"), secret, algorithm="HS256"),
        "wrong issuer": jwt.encode(dict(claims, iss="other"), secret, algorithm="HS256"),
        "no audience": jwt.encode(
            {k: v for k, v in claims.items() if k != "aud"}, secret, algorithm="HS256"
        ),
        "no issuer": jwt.encode(
            {k: v for k, v in claims.items() if k != "iss"}, secret, algorithm="HS256"
        ),
        "HS512": jwt.encode(claims, secret, algorithm="HS512"),
        "no expiry": jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"}, secret, algorithm="HS256"
        ),
        "garbage": "not.a.token",
        "empty signature": f"{header}.{payload}.",
    }


async def test_bad_tokens_get_401(api: Api) -> None:
    # A real user's token works, so the forged ones fail for the right reason.
    me = await api.client.get("/users/me", headers=await api.admin())
    assert me.status_code == 200
    user_id = me.json()["id"]
    secret = api.settings.jwt_secret.get_secret_value()
    good = TokenSigner(secret).issue(user_id, ADMIN, "admin")
    assert (
        await api.client.get("/users/me", headers={"Authorization": f"Bearer {good}"})
    ).status_code == 200

    for case, token in _forged_tokens(api, user_id).items():
        response = await api.client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, case
        assert response.headers["www-authenticate"] == "Bearer", case
        assert _error(response.json())["type"] == "unauthorized", case


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users/me"),
        ("GET", "/users"),
        ("GET", "/models"),
        ("POST", "/models?name=x"),
        ("GET", "/status"),
        ("POST", "/serve"),
        ("DELETE", "/stop/00000000-0000-0000-0000-000000000000"),
        ("GET", "/api-keys"),
    ],
)
async def test_every_endpoint_but_health_needs_a_token(api: Api, method: str, path: str) -> None:
    response = await api.client.request(method, path)
    assert response.status_code == 401
    _error(response.json())


async def test_token_of_a_deleted_identity_is_refused(api: Api) -> None:
    secret = api.settings.jwt_secret.get_secret_value()
    ghost = TokenSigner(secret).issue("11111111-1111-4111-8111-111111111111", "ghost", "admin")
    response = await api.client.get("/users/me", headers={"Authorization": f"Bearer {ghost}"})
    assert response.status_code == 401


async def test_login_is_rate_limited_per_user_and_address(api_factory: ApiFactory) -> None:
    async with api_factory(client_host="10.9.9.9", login_max_failures=3) as api:
        password = api.settings.admin_password.get_secret_value()  # type: ignore[union-attr]
        for _ in range(3):
            response = await api.client.post(
                "/auth/token", json={"username": ADMIN, "password": "wrong-password"}
            )
            assert response.status_code == 401
        limited = await api.client.post(
            "/auth/token", json={"username": ADMIN, "password": password}
        )
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        assert _error(limited.json())["type"] == "too_many_requests"
        # Another user from the same address is not locked out.
        other = await api.client.post(
            "/auth/token", json={"username": "someone", "password": "wrong-password"}
        )
        assert other.status_code == 401


async def _login_from(api: Api, forwarded_for: str, password: str) -> int:
    response = await api.client.post(
        "/auth/token",
        json={"username": ADMIN, "password": password},
        headers={"X-Forwarded-For": forwarded_for},
    )
    if response.status_code == 429:
        assert int(response.headers["retry-after"]) > 0
        assert _error(response.json())["type"] == "too_many_requests"
    return response.status_code


async def test_failures_elsewhere_do_not_lock_the_owner_out(api_factory: ApiFactory) -> None:
    """Behind a trusted proxy, an attacker's wrong passwords back off the attacker only:
    the owner's right password from their own address works."""
    async with api_factory(trusted_proxies=["127.0.0.1/32"]) as api:
        password = api.settings.admin_password.get_secret_value()  # type: ignore[union-attr]
        attacker, owner = "198.51.100.7", "203.0.113.9"
        failures = [await _login_from(api, attacker, "wrong-password") for _ in range(5)]
        assert failures == [401] * 5
        assert await _login_from(api, attacker, password) == 429
        assert await _login_from(api, owner, password) == 200
        assert await _login_from(api, attacker, "wrong-password") == 429  # still backing off


async def test_forwarded_for_is_ignored_without_trusted_proxies(api_factory: ApiFactory) -> None:
    """A client cannot dodge the back-off by writing a new X-Forwarded-For each time."""
    async with api_factory(login_max_failures=3) as api:
        statuses = [await _login_from(api, f"198.51.100.{i}", "wrong-password") for i in range(4)]
        assert statuses == [401, 401, 401, 429]


async def test_configured_issuer_and_audience(api_factory: ApiFactory) -> None:
    async with api_factory(jwt_issuer="issuer-x", jwt_audience="audience-x") as api:
        headers = await api.admin()
        claims = jwt.get_unverified_claims(headers["Authorization"].removeprefix("Bearer "))
        assert (claims["iss"], claims["aud"]) == ("issuer-x", "audience-x")
        assert (await api.client.get("/users/me", headers=headers)).status_code == 200
        user_id = claims["sub"]
        secret = api.settings.jwt_secret.get_secret_value()
        default = TokenSigner(secret).issue(user_id, ADMIN, "admin")
        refused = await api.client.get("/users/me", headers={"Authorization": f"Bearer {default}"})
        assert refused.status_code == 401


async def test_health_is_public_and_checks_dependencies(api: Api) -> None:
    response = await api.client.get("/health")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "checks": {"postgres": "ok", "minio": "ok", "kubernetes": "ok"},
    }


async def test_health_reports_a_dead_dependency(api_factory: ApiFactory) -> None:
    async with api_factory(s3_endpoint="127.0.0.1:9", health_timeout_seconds=2.0) as api:
        response = await api.client.get("/health")
        assert response.status_code == 503
        assert response.json()["checks"]["minio"] != "ok"
        assert response.json()["checks"]["postgres"] == "ok"


async def test_request_id_is_returned_and_metrics_are_exposed(api: Api) -> None:
    response = await api.client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    metrics = await api.client.get("/metrics")
    assert metrics.status_code == 200
    assert "http_requests_total{" in metrics.text
    assert 'route="/health"' in metrics.text


async def test_openapi_operation_ids_are_clean(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    ids = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {
        "login",
        "health",
        "list_models",
        "upload_model",
        "serve_model",
        "list_servers",
        "stop_server",
        "create_api_key",
    } <= ids
    assert all(i.isidentifier() for i in ids)
