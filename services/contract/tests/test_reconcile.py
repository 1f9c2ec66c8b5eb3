"""Reservations follow the cluster (the shared informer): on start, a reservation whose
ModelServe is gone is released and a ModelServe without one is counted; while running, a
deleted ModelServe releases what it held."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_testkit.namespaces import temporary_namespace
from inference_testkit.waiting import async_wait_for

from .conftest import ContractFactory, Users, modelserve_spec


@pytest.fixture
def quiet_namespace(kube_api: client.ApiClient) -> Iterator[str]:
    """A namespace the stack's operator leaves alone (`opt-*`): no pods for these tests."""
    with temporary_namespace(kube_api, "opt-rc") as name:
        yield name


def _create(kube_api: client.ApiClient, namespace: str, name: str, **spec: Any) -> None:
    client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ModelServe",
            "metadata": {"name": name},
            "spec": modelserve_spec(**spec),
        },
    )


async def test_reconcile_on_start_and_while_running(
    contract_factory: ContractFactory,
    users: Users,
    kube_api: client.ApiClient,
    quiet_namespace: str,
) -> None:
    namespace = quiet_namespace
    alice, auth = await users.new()
    _, admin = await users.new("admin")
    async with contract_factory() as contract:
        await contract.put(
            f"/contracts/users/{alice}", json={"allowed_namespaces": [namespace]}, headers=admin
        )
        for name in ("ghost", "kept"):
            body = {"namespace": namespace, "name": name, "spec": modelserve_spec(1, gpus=1)}
            response = await contract.post("/reservations", json=body, headers=auth)
            assert response.status_code == 200, response.text
    _create(kube_api, namespace, "kept", replicas=2, gpus=1)
    _create(kube_api, namespace, "extra", replicas=1, gpus=2)

    async with contract_factory(watch_modelserves=True, orphan_grace_seconds=0) as contract:

        async def usage() -> dict[str, Any]:
            response = await contract.get(f"/usage/namespaces/{namespace}", headers=admin)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        async def reconciled() -> dict[str, Any] | None:
            body = await usage()
            return body if body["servers"]["used"] == 2 and body["gpus"]["used"] == 4 else None

        # kept (2 x 1 GPU, the cluster's replicas) + extra (1 x 2 GPUs); ghost released
        await async_wait_for(reconciled, timeout=30, what="usage recomputed from the cluster")
        mine = (await contract.get(f"/usage/users/{alice}", headers=auth)).json()
        assert mine["servers"]["used"] == 1  # kept is still alice's
        assert mine["gpus"]["used"] == 2

        client.CustomObjectsApi(kube_api).delete_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "extra"
        )

        async def released() -> dict[str, Any] | None:
            body = await usage()
            return body if body["servers"]["used"] == 1 else None

        body = await async_wait_for(released, timeout=30, what="extra released")
        assert body["gpus"]["used"] == 2

        # A reservation whose ModelServe never comes is swept (grace 0 here).
        late = {"namespace": namespace, "name": "never", "spec": modelserve_spec(1, gpus=1)}
        response = await contract.post("/reservations", json=late, headers=auth)
        assert response.status_code == 200, response.text
        body = await async_wait_for(released, timeout=30, what="the late reservation swept")
        assert body["gpus"]["used"] == 2
        health = await contract.get("/health")
        assert health.json()["checks"]["reconcile"] == "ok"
