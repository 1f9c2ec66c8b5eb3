"""node_inventory: nodes, cards and holders from raw Node and Pod objects (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from inference_api.node_inventory import NOT_REPORTED, node_inventory


def node(
    name: str,
    gpus: int | None = None,
    *,
    kwok: bool = False,
    ready: bool = True,
    labels: dict[str, str] | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    resources = {"cpu": "4"} | ({"nvidia.com/gpu": str(gpus)} if gpus is not None else {})
    return {
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake"} if kwok else {},
            "labels": labels or {},
        },
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(name: str, node_name: str, gpus: int, phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "inference",
            "labels": {"inference-service.dev/server-uuid": f"uuid-{name}"},
        },
        "spec": {
            "nodeName": node_name,
            "containers": [{"resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}],
        },
        "status": {"phase": phase},
    }


RTX = {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-4090", "nvidia.com/gpu.memory": "24564"}


@pytest.mark.parametrize(
    ("nodes", "pods", "expected"),
    [
        pytest.param(
            [node("cpu-only")],
            [],
            [("cpu-only", False, True, True, None, None, 0, 0, [])],
            id="node without GPUs",
        ),
        pytest.param(
            [node("kwok-a", 4, kwok=True, labels=RTX)],
            [pod("p1", "kwok-a", 1), pod("p2", "kwok-a", 2), pod("done", "kwok-a", 1, "Failed")],
            [
                (
                    "kwok-a",
                    True,
                    True,
                    True,
                    "NVIDIA-GeForce-RTX-4090",
                    24564,
                    4,
                    3,
                    [("p1", 1, "uuid-p1"), ("p2", 2, "uuid-p2")],
                )
            ],
            id="simulated node: holders counted, finished pods not",
        ),
        pytest.param(
            [node("z", 2, ready=False, unschedulable=True), node("a", 0)],
            [pod("cpu", "a", 0), pod("elsewhere", "gone", 1)],
            [
                ("a", False, True, True, None, None, 0, 0, []),
                ("z", False, False, False, None, None, 2, 0, []),
            ],
            id="sorted by name; not ready, cordoned; CPU pods and unknown nodes ignored",
        ),
        pytest.param(
            [node("bad-label", 1, labels={"nvidia.com/gpu.memory": "lots"})],
            [],
            [("bad-label", False, True, True, None, None, 1, 0, [])],
            id="a card memory label that is not a number is left out",
        ),
    ],
)
def test_node_inventory(
    nodes: list[dict[str, Any]], pods: list[dict[str, Any]], expected: list[tuple[Any, ...]]
) -> None:
    result = node_inventory(nodes, pods)
    assert [
        (
            n.name,
            n.simulated,
            n.ready,
            n.schedulable,
            n.gpu_product,
            n.gpu_memory_mib,
            n.gpu_allocatable,
            n.gpu_allocated,
            [(h.pod, h.gpus, h.server_uuid) for h in n.holders],
        )
        for n in result
    ] == expected
    assert all(n.metrics is None and n.metrics_status == NOT_REPORTED for n in result)
