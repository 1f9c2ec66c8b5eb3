"""GET /nodes against the stack's real apiserver: its kwok GPU nodes and the local node."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

from kubernetes import client

from inference_common.modelserve import SERVER_UUID_LABEL

from ..conftest import Api


def gpu_pod(name: str, node_name: str, server_uuid: str, gpus: int) -> dict[str, Any]:
    """A pod bound straight to a node (no scheduler), holding `gpus` cards."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {SERVER_UUID_LABEL: server_uuid}},
        "spec": {
            "nodeName": node_name,
            "containers": [
                {
                    "name": "main",
                    "image": "registry.invalid/none:0",
                    "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
                }
            ],
        },
    }


async def test_nodes_list_cards_holders_and_simulated_nodes(
    api: Api, kube_api: client.ApiClient, namespace: str
) -> None:
    _, alice = await api.new_user()
    before = await api.client.get("/nodes", headers=alice)
    assert before.status_code == 200, before.text
    simulated = [n for n in before.json() if n["simulated"] and n["gpu_allocatable"] >= 2]
    assert simulated, "the stack's simulated GPU nodes are missing"
    target = simulated[0]
    assert target["gpu_product"]
    assert target["gpu_memory_mib"] > 0
    assert target["metrics"] is None
    assert target["metrics_status"] == "not reported"
    local = [n for n in before.json() if not n["simulated"]]
    assert local, "the local node is missing"

    server_uuid = str(uuid4())
    core = client.CoreV1Api(kube_api)
    await asyncio.to_thread(
        core.create_namespaced_pod, namespace, gpu_pod("holder", target["name"], server_uuid, 2)
    )
    after = await api.client.get("/nodes", headers=alice)
    assert after.status_code == 200, after.text
    node = next(n for n in after.json() if n["name"] == target["name"])
    mine = [h for h in node["holders"] if h["namespace"] == namespace]
    assert mine == [
        {
            "namespace": namespace,
            "pod": "holder",
            "server_uuid": server_uuid,
            "gpus": 2,
            "phase": mine[0]["phase"],
        }
    ]
    assert node["gpu_allocated"] == sum(h["gpus"] for h in node["holders"])
    assert node["gpu_allocated"] >= 2


async def test_nodes_need_a_login(api: Api) -> None:
    response = await api.client.get("/nodes")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthorized"
