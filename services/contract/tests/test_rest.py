"""The REST API against the real Postgres: contracts, usage, evaluate, reservations."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
from sqlalchemy import select, update
from sqlalchemy.pool import NullPool

from inference_common.db import make_engine, make_sessionmaker, unit_of_work
from inference_common.rate_windows import window_of
from inference_common.tables import RateCounter, User
from inference_contract.settings import ContractSettings

from .conftest import ContractFactory, Users, modelserve_spec, register_model


def _ns() -> str:
    return f"team-{secrets.token_hex(3)}"


async def test_a_token_issued_before_a_password_change_is_refused(
    contract: httpx.AsyncClient, users: Users
) -> None:
    alice, alice_auth = await users.new()
    assert (await contract.get(f"/contracts/users/{alice}", headers=alice_auth)).status_code == 200
    engine = make_engine(users.database_url, poolclass=NullPool)
    async with unit_of_work(make_sessionmaker(engine)) as session:
        await session.execute(
            update(User)
            .where(User.username == alice)
            .values(password_changed_at=datetime.now(UTC) + timedelta(seconds=1))
        )
    await engine.dispose()
    response = await contract.get(f"/contracts/users/{alice}", headers=alice_auth)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "before the password was changed" in response.json()["error"]["message"]


async def test_contracts_put_subsets_and_null_inherits(
    contract: httpx.AsyncClient, users: Users
) -> None:
    alice, alice_auth = await users.new()
    _, admin = await users.new("admin")
    response = await contract.get(f"/contracts/users/{alice}", headers=alice_auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["contract"] == {}
    assert body["effective"]["max_replicas_per_server"] == 5
    assert body["effective"]["allowed_namespaces"] == ["default", "inference"]

    response = await contract.put(
        f"/contracts/users/{alice}", json={"max_servers": 2, "max_parallel": 4}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["effective"]["max_servers"] == 2
    response = await contract.put(
        f"/contracts/users/{alice}", json={"max_servers": None}, headers=admin
    )
    body = response.json()
    assert body["contract"]["max_servers"] is None
    assert body["contract"]["max_parallel"] == 4  # untouched by a PUT without it
    assert body["effective"]["max_servers"] == 10  # the global default again


async def test_users_read_their_own_and_only_admins_write(
    contract: httpx.AsyncClient, users: Users
) -> None:
    alice, alice_auth = await users.new()
    bob, _ = await users.new()
    assert (await contract.get(f"/contracts/users/{bob}", headers=alice_auth)).status_code == 403
    response = await contract.put(
        f"/contracts/users/{alice}", json={"max_servers": 99}, headers=alice_auth
    )
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "forbidden"
    assert (await contract.get(f"/contracts/users/{alice}")).status_code == 401
    assert (await contract.get(f"/usage/users/{bob}", headers=alice_auth)).status_code == 403


async def test_bad_input_is_4xx_in_the_one_error_shape(
    contract: httpx.AsyncClient, users: Users
) -> None:
    _, admin = await users.new("admin")
    response = await contract.put(
        "/contracts/namespaces/Bad_NS", json={"max_servers": 1}, headers=admin
    )
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "validation_error"
    response = await contract.put(
        f"/contracts/namespaces/{_ns()}", json={"max_servers": -1}, headers=admin
    )
    assert response.status_code == 422
    response = await contract.put(
        f"/contracts/namespaces/{_ns()}", json={"allowed_namespaces": ["x"]}, headers=admin
    )
    assert response.status_code == 422  # a namespace has no namespace allow-list
    response = await contract.put(
        f"/contracts/namespaces/{_ns()}",
        json={"allowed_gpu_products": ["ok", "nul\u0000"]},
        headers=admin,
    )
    assert response.status_code == 422  # Postgres text holds no NUL: refused before
    response = await contract.post(
        "/evaluate", json={"namespace": "inference", "name": "x", "spec": {}}, headers=admin
    )
    assert response.status_code == 422


async def test_evaluate_reports_every_rule_and_never_reserves(
    contract: httpx.AsyncClient, users: Users
) -> None:
    alice, auth = await users.new()
    spec = modelserve_spec(replicas=6, image="docker.io/x/y:1", runtime={"extraArgs": ["--mlock"]})
    response = await contract.post(
        "/evaluate", json={"namespace": "elsewhere", "name": "s", "spec": spec}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["allowed"] is False
    assert body["status_code"] == 403
    assert {v["code"] for v in body["violations"]} == {
        "namespace_not_allowed",
        "replicas_per_server_exceeded",
        "image_not_allowed",
        "admin_only_flag",
    }
    ok = await contract.post(
        "/evaluate",
        json={"namespace": "inference", "name": "s", "spec": modelserve_spec()},
        headers=auth,
    )
    assert ok.json()["allowed"] is True
    usage = (await contract.get(f"/usage/users/{alice}", headers=auth)).json()
    assert usage["servers"] == {"used": 0, "limit": 10}


async def test_only_admins_decide_for_another_principal(
    contract: httpx.AsyncClient, users: Users
) -> None:
    _, auth = await users.new()
    body = {
        "namespace": "inference",
        "name": "s",
        "spec": modelserve_spec(runtime={"extraArgs": ["--no-mmap"]}),
        "principal": {"username": "root", "is_admin": True},
    }
    assert (await contract.post("/evaluate", json=body, headers=auth)).status_code == 403
    _, admin = await users.new("admin")
    response = await contract.post("/evaluate", json=body, headers=admin)
    assert response.json()["allowed"] is True


async def test_reserve_resize_release_and_usage(contract: httpx.AsyncClient, users: Users) -> None:
    alice, auth = await users.new()
    _, admin = await users.new("admin")
    namespace = _ns()
    await contract.put(
        f"/contracts/users/{alice}",
        json={"allowed_namespaces": [namespace], "max_gpus": 4},
        headers=admin,
    )
    reserve = {"namespace": namespace, "name": "a", "spec": modelserve_spec(2, gpus=1)}
    response = await contract.post("/reservations", json=reserve, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["reservation"]["owner"] == alice
    usage = (await contract.get(f"/usage/users/{alice}", headers=auth)).json()
    assert usage["gpus"] == {"used": 2, "limit": 4}
    assert usage["gpu_memory_gib"]["used"] == 48  # 2 cards x the 24 GiB default

    over = await contract.post(
        "/reservations/resize",
        json={"namespace": namespace, "name": "a", "replicas": 5},
        headers=auth,
    )
    assert over.status_code == 409, over.text
    assert over.json()["error"]["type"] == "conflict"
    assert over.json()["error"]["detail"]["violations"][0]["code"] == "gpu_quota_exceeded"
    near = await contract.post(
        "/reservations/resize",
        json={"namespace": namespace, "name": "a", "replicas": 4},
        headers=auth,
    )
    assert near.status_code == 200, near.text
    assert [w["code"] for w in near.json()["decision"]["warnings"]] == ["near_quota"]

    ns_usage = (await contract.get(f"/usage/namespaces/{namespace}", headers=auth)).json()
    assert ns_usage["servers"]["used"] == 1
    assert ns_usage["gpus"]["used"] == 4

    deleted = await contract.delete(f"/reservations/{namespace}/a", headers=auth)
    assert deleted.status_code == 204
    assert (await contract.delete(f"/reservations/{namespace}/a", headers=auth)).status_code == 404
    usage = (await contract.get(f"/usage/users/{alice}", headers=auth)).json()
    assert usage["gpus"]["used"] == 0


async def test_users_cannot_touch_reservations_of_others(
    contract: httpx.AsyncClient, users: Users
) -> None:
    alice, alice_auth = await users.new()
    _, bob_auth = await users.new()
    _, admin = await users.new("admin")
    namespace = _ns()
    await contract.put(
        f"/contracts/users/{alice}", json={"allowed_namespaces": [namespace]}, headers=admin
    )
    reserve = {"namespace": namespace, "name": "a", "spec": modelserve_spec()}
    assert (
        await contract.post("/reservations", json=reserve, headers=alice_auth)
    ).status_code == 200
    response = await contract.delete(f"/reservations/{namespace}/a", headers=bob_auth)
    assert response.status_code == 403


async def test_namespace_quota_applies_to_every_user(
    contract: httpx.AsyncClient, users: Users
) -> None:
    _, admin = await users.new("admin")
    namespace = _ns()
    await contract.put(f"/contracts/namespaces/{namespace}", json={"max_servers": 1}, headers=admin)
    first, first_auth = await users.new()
    second, second_auth = await users.new()
    for who in (first, second):
        await contract.put(
            f"/contracts/users/{who}", json={"allowed_namespaces": [namespace]}, headers=admin
        )
    one = {"namespace": namespace, "name": "one", "spec": modelserve_spec()}
    two = {"namespace": namespace, "name": "two", "spec": modelserve_spec()}
    assert (await contract.post("/reservations", json=one, headers=first_auth)).status_code == 200
    refused = await contract.post("/reservations", json=two, headers=second_auth)
    assert refused.status_code == 409
    assert refused.json()["error"]["detail"]["violations"][0]["scope"] == "namespace"


async def test_admission_is_not_served_on_the_plain_port(contract: httpx.AsyncClient) -> None:
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}
    response = await contract.post("/admission/modelserves", json=review)
    assert response.status_code == 403
    assert "HTTPS" in response.json()["error"]["message"]


async def test_context_never_above_the_models_own(
    contract: httpx.AsyncClient, users: Users, contract_settings: ContractSettings
) -> None:
    _, auth = await users.new()
    name = f"m-{secrets.token_hex(4)}"
    # public: any user may serve it, only the context rule applies
    await register_model(
        contract_settings.database_url, name, context_length=2048, visibility="public"
    )

    async def decide(context: int) -> dict[str, Any]:
        spec = modelserve_spec(runtime={"contextSize": context})
        spec["model"]["name"] = name
        body = {"namespace": "inference", "name": "s", "spec": spec}
        response = await contract.post("/evaluate", json=body, headers=auth)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    assert (await decide(2048))["allowed"] is True
    refused = await decide(4096)
    assert [v["code"] for v in refused["violations"]] == ["context_size_above_model"]
    assert refused["violations"][0]["limit"] == 2048


async def test_a_server_uuid_is_reserved_once(contract: httpx.AsyncClient, users: Users) -> None:
    _, admin = await users.new("admin")
    server_uuid = str(uuid4())
    for name, status in (("a", 200), ("a", 200), ("b", 409)):
        body = {
            "namespace": "inference",
            "name": name,
            "spec": modelserve_spec(),
            "server_uuid": server_uuid,
        }
        response = await contract.post("/reservations", json=body, headers=admin)
        assert response.status_code == status, response.text
    assert "reserved for another server" in response.json()["error"]["message"]


async def test_rate_limits_in_user_contracts_and_the_current_window_in_usage(
    contract_factory: ContractFactory, users: Users, contract_settings: ContractSettings
) -> None:
    """Rate limits are user contract fields (null inherits RATE_LIMIT_*), not namespace
    ones; usage shows the gateway's current window from `rate_counters`."""
    async with contract_factory(rate_limit_requests_per_minute=600) as contract:
        alice, auth = await users.new()
        _, admin = await users.new("admin")
        body = (await contract.get(f"/contracts/users/{alice}", headers=auth)).json()
        assert body["effective"]["requests_per_minute"] == 600
        assert body["effective"]["tokens_per_minute"] is None
        response = await contract.put(
            f"/contracts/users/{alice}",
            json={"tokens_per_minute": 5000, "concurrent_requests": 2},
            headers=admin,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["contract"]["tokens_per_minute"] == 5000
        assert body["contract"]["requests_per_minute"] is None
        assert (
            body["effective"]["requests_per_minute"],
            body["effective"]["concurrent_requests"],
        ) == (600, 2)
        refused = await contract.put(
            f"/contracts/namespaces/{_ns()}", json={"requests_per_minute": 5}, headers=admin
        )
        assert refused.status_code == 422
        bad = await contract.put(
            f"/contracts/users/{alice}", json={"requests_per_minute": 0}, headers=admin
        )
        assert bad.status_code == 422

        engine = make_engine(contract_settings.database_url, poolclass=NullPool)
        try:
            async with unit_of_work(make_sessionmaker(engine)) as db:
                user_id = await db.scalar(select(User.id).where(User.username == alice))
                window = window_of(time.time(), contract_settings.rate_limit_window_seconds)
                for offset in (0, 1):  # the next window's row must not be reported
                    db.add(
                        RateCounter(
                            subject=f"user:{user_id}", window=window + offset, requests=7, tokens=70
                        )
                    )
        finally:
            await engine.dispose()
        usage = (await contract.get(f"/usage/users/{alice}", headers=auth)).json()
        assert usage["rate"] == {
            "window_seconds": 60.0,
            "requests": {"used": 7, "limit": 600},
            "tokens": {"used": 70, "limit": 5000},
        }
