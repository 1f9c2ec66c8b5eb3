"""The API decides through the contract service (a real one: in-process, on the stack's
Postgres) and creates in the real apiserver: quotas hold under concurrent serves, scaling is
checked and stopping releases, and with the contract service down nothing is created."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from inference_api.app import create_app
from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_contract.app import create_app as create_contract_app
from inference_testkit.servers import free_port
from inference_testkit.waiting import async_wait_for

from .conftest import Api, ApiFactory, contract_settings_for
from .routes.test_servers import get_modelserve, modelserves, upload


async def _username(api: Api, headers: dict[str, str]) -> str:
    return str((await api.client.get("/users/me", headers=headers)).json()["username"])


async def _usage(api: Api, username: str) -> dict[str, Any]:
    response = await api.contract.get(f"/usage/users/{username}", headers=await api.admin())
    assert response.status_code == 200, response.text
    usage: dict[str, Any] = response.json()
    return usage


async def test_twenty_concurrent_serves_against_a_quota_of_five_admit_exactly_five(
    api_factory: ApiFactory, kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    async with api_factory(contract={"max_servers": 5}) as api:
        _, alice = await api.new_user()
        model = await upload(api, alice, tmp_path)

        async def serve() -> Any:
            return await api.client.post(
                "/serve", json={"model_uuid": model["uuid"]}, headers=alice
            )

        answers = await asyncio.gather(*(serve() for _ in range(20)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] * 5 + [409] * 15, [a.text for a in answers]
        refused = [a.json()["error"] for a in answers if a.status_code == 409]
        assert {e["detail"]["rule"] for e in refused} == {"server_quota_exceeded"}
        assert all("server_quota_exceeded: " in e["message"] for e in refused)
        warned = [a.json()["warnings"] for a in answers if a.status_code == 201]
        assert any(w and w[0].startswith("near_quota: ") for w in warned), warned

        created = {a.json()["name"] for a in answers if a.status_code == 201}
        in_cluster = await asyncio.to_thread(modelserves, kube_api, namespace)
        assert {item["metadata"]["name"] for item in in_cluster} == created
        status = (await api.client.get("/status", headers=alice)).json()
        assert {s["name"] for s in status} == created
        assert (await _usage(api, await _username(api, alice)))["servers"] == {
            "used": 5,
            "limit": 5,
        }


async def test_scaling_is_checked_and_stopping_releases(
    api: Api, kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    _, alice = await api.new_user()
    username = await _username(api, alice)
    admin = await api.admin()
    put = await api.contract.put(
        f"/contracts/users/{username}",
        json={"max_gpus": 2, "max_replicas_per_server": 3, "allowed_namespaces": [namespace]},
        headers=admin,
    )
    assert put.status_code == 200, put.text
    model = await upload(api, alice, tmp_path)
    served = await api.client.post(
        "/serve", json={"model_uuid": model["uuid"], "gpu": {"count": 1}}, headers=alice
    )
    assert served.status_code == 201, served.text
    server = served.json()
    path = f"/servers/{server['server_uuid']}"

    async def replicas_in_cluster() -> int:
        obj = await asyncio.to_thread(get_modelserve, kube_api, namespace, server["name"])
        assert obj is not None
        return int(obj["spec"]["replicas"])

    scaled = await api.client.patch(path, json={"replicas": 2}, headers=alice)
    assert scaled.status_code == 200, scaled.text
    assert scaled.json()["replicas"] == 2
    assert await replicas_in_cluster() == 2

    over = await api.client.patch(path, json={"replicas": 3}, headers=alice)
    assert over.status_code == 409, over.text
    assert over.json()["error"]["detail"]["rule"] == "gpu_quota_exceeded"
    too_many = await api.client.patch(path, json={"replicas": 4}, headers=alice)
    assert too_many.status_code == 409, too_many.text  # every broken rule; 409 before 422
    codes = {v["code"] for v in too_many.json()["error"]["detail"]["violations"]}
    assert codes == {"replicas_per_server_exceeded", "gpu_quota_exceeded"}
    assert await replicas_in_cluster() == 2  # refused: nothing changed
    assert (await _usage(api, username))["gpus"] == {"used": 2, "limit": 2}

    bob = (await api.new_user())[1]
    assert (await api.client.patch(path, json={"replicas": 1}, headers=bob)).status_code == 404

    stopped = await api.client.delete(f"/stop/{server['server_uuid']}", headers=alice)
    assert stopped.status_code == 200, stopped.text
    assert (await _usage(api, username))["gpus"]["used"] == 0
    gone = await api.client.patch(path, json={"replicas": 1}, headers=alice)
    assert gone.status_code == 409, gone.text


async def test_contract_service_down_serve_is_503_and_nothing_is_created(
    api: Api, kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    _, alice = await api.new_user()
    model = await upload(api, alice, tmp_path)
    dead = api.settings.model_copy(update={"contract_url": f"http://127.0.0.1:{free_port()}"})
    app = create_app(dead)  # the real client of the contract service, nothing listening
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            response = await http.post("/serve", json={"model_uuid": model["uuid"]}, headers=alice)
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "5"
            error = response.json()["error"]
            assert error["message"] == "contract service unavailable"
            assert error["detail"]["dependency"] == "contract service"
            assert (await http.get("/status", headers=alice)).json() == []
    assert await asyncio.to_thread(modelserves, kube_api, namespace) == []


async def test_restarted_contract_service_recomputes_usage_from_the_cluster(
    api: Api, kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """A ModelServe deleted behind the contract service's back (this one does not watch)
    still counts until a contract service starts: its first list releases it."""
    _, alice = await api.new_user()
    username = await _username(api, alice)
    model = await upload(api, alice, tmp_path)
    names = []
    for _ in range(2):
        served = await api.client.post("/serve", json={"model_uuid": model["uuid"]}, headers=alice)
        assert served.status_code == 201, served.text
        names.append(served.json()["name"])
    await asyncio.to_thread(
        client.CustomObjectsApi(kube_api).delete_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        names[0],
    )
    assert (await _usage(api, username))["servers"]["used"] == 2

    restarted = create_contract_app(
        contract_settings_for(api.settings, watch_modelserves=True, orphan_grace_seconds=0)
    )
    async with (
        restarted.router.lifespan_context(restarted),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=restarted), base_url="http://contract.test"
        ) as contract,
    ):

        async def synced() -> bool:
            return (await contract.get("/health")).status_code == 200

        await async_wait_for(synced, timeout=60, what="the contract service's first list")
        usage = await contract.get(f"/usage/users/{username}", headers=await api.admin())
        assert usage.json()["servers"]["used"] == 1


GPU = "NVIDIA-GeForce-RTX-4090"
ALICE_CONTRACT = {
    "max_replicas_per_server": 2,
    "max_gpus_per_replica": 2,
    "allowed_gpu_products": [GPU],
    "max_context_size": 1024,
    "max_parallel": 8,
    "max_threads": 4,
    "max_batch_size": 1024,
}


@pytest.mark.parametrize(
    ("rule", "status", "refused", "allowed"),
    [
        ("replicas_per_server_exceeded", 422, {"replicas": 3}, {"replicas": 2}),
        (
            "gpus_per_replica_exceeded",
            422,
            {"gpu": {"count": 3, "product": GPU}},
            {"gpu": {"count": 2, "product": GPU}},
        ),
        (
            "gpu_product_not_allowed",
            403,
            {"gpu": {"count": 1}},
            {"gpu": {"count": 1, "product": GPU}},
        ),
        (
            "context_size_exceeded",
            422,
            {"runtime_params": "--ctx-size 2048"},
            {"runtime_params": "--ctx-size 1024"},
        ),
        (
            "parallel_exceeded",
            422,
            {"runtime_params": "--parallel 9"},
            {"runtime_params": "--parallel 8"},
        ),
        (
            "threads_exceeded",
            422,
            {"runtime_params": "-t 2 --threads-batch 5"},
            {"runtime_params": "-t 4 -tb 4"},
        ),
        (
            "batch_size_exceeded",
            422,
            {"runtime_params": "-b 1025"},
            {"runtime_params": "-b 1024 -ub 512"},
        ),
        ("namespace_not_allowed", 403, {"namespace": "default"}, {}),
        ("admin_only_flag", 403, {"runtime_params": "--no-mmap"}, {"runtime_params": "--temp 1"}),
    ],
)
async def test_each_rule_refuses_through_the_api_and_allows_within_it(
    api: Api,
    kube_api: client.ApiClient,
    namespace: str,
    tmp_path: Path,
    rule: str,
    status: int,
    refused: dict[str, Any],
    allowed: dict[str, Any],
) -> None:
    _, alice = await api.new_user()
    username = await _username(api, alice)
    put = await api.contract.put(
        f"/contracts/users/{username}",
        json={**ALICE_CONTRACT, "allowed_namespaces": [namespace]},
        headers=await api.admin(),
    )
    assert put.status_code == 200, put.text
    model = await upload(api, alice, tmp_path)
    body = {"model_uuid": model["uuid"]}

    denied = await api.client.post("/serve", json={**body, **refused}, headers=alice)
    assert denied.status_code == status, denied.text
    error = denied.json()["error"]
    assert error["detail"]["rule"] == rule
    assert error["message"].startswith(f"{rule}: ")
    assert await asyncio.to_thread(modelserves, kube_api, namespace) == []

    served = await api.client.post("/serve", json={**body, **allowed}, headers=alice)
    assert served.status_code == 201, served.text
    stopped = await api.client.delete(f"/stop/{served.json()['server_uuid']}", headers=alice)
    assert stopped.status_code == 200, stopped.text
    assert (await _usage(api, username))["servers"]["used"] == 0
