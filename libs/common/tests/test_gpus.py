"""Table tests: free GPUs per node from nodes and pods, and which nodes a GPU request fits."""

from __future__ import annotations

from typing import Any

import pytest

from inference_common.gpus import free_gpus, node_matches, pod_gpus


def node(name: str, gpus: int, unschedulable: bool = False) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"unschedulable": unschedulable},
        "status": {"allocatable": {"nvidia.com/gpu": str(gpus)}},
    }


def pod(node_name: str | None, gpus: int, phase: str = "Running", init: int = 0) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}, {}],
    }
    if node_name:
        spec["nodeName"] = node_name
    if init:
        spec["initContainers"] = [{"resources": {"requests": {"nvidia.com/gpu": str(init)}}}]
    return {"spec": spec, "status": {"phase": phase}}


@pytest.mark.parametrize(
    ("nodes", "pods", "expected"),
    [
        ([], [], {}),
        ([node("a", 4), node("b", 4)], [], {"a": 4, "b": 4}),
        ([node("a", 4), node("b", 4)], [pod("a", 2), pod("a", 1), pod("b", 4)], {"a": 1, "b": 0}),
        ([node("a", 4)], [pod("a", 2, phase="Succeeded"), pod("a", 1, phase="Failed")], {"a": 4}),
        ([node("a", 4)], [pod(None, 2), pod("elsewhere", 2)], {"a": 4}),
        ([node("a", 4), node("c", 8, unschedulable=True)], [], {"a": 4}),
        ([node("a", 2)], [pod("a", 3)], {"a": 0}),
        ([node("a", 4)], [pod("a", 1, phase="Pending", init=3)], {"a": 1}),
    ],
)
def test_free_gpus(
    nodes: list[dict[str, Any]], pods: list[dict[str, Any]], expected: dict[str, int]
) -> None:
    assert free_gpus(nodes, pods) == expected


def test_pod_gpus_ignores_garbage() -> None:
    assert (
        pod_gpus({"spec": {"containers": [{"resources": {"limits": {"nvidia.com/gpu": "x"}}}]}})
        == 0
    )
    assert pod_gpus({}) == 0


RTX = {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-4090", "nvidia.com/gpu.memory": "24564"}


@pytest.mark.parametrize(
    ("labels", "selector", "product", "min_gib", "matches"),
    [
        (RTX, None, None, None, True),
        ({}, None, None, None, True),
        (RTX, None, "NVIDIA-GeForce-RTX-4090", None, True),
        (RTX, None, "NVIDIA-GeForce-RTX-3090", None, False),
        (RTX, None, None, 24, True),
        (RTX, None, None, 25, False),
        ({}, None, None, 1, False),
        ({**RTX, "nvidia.com/gpu.memory": "lots"}, None, None, 1, False),
        (RTX, {"zone": "a"}, None, None, False),
        ({**RTX, "zone": "a"}, {"zone": "a"}, "NVIDIA-GeForce-RTX-4090", 16, True),
    ],
)
def test_node_matches(
    labels: dict[str, str],
    selector: dict[str, str] | None,
    product: str | None,
    min_gib: int | None,
    matches: bool,
) -> None:
    assert node_matches(labels, selector, product, min_gib) is matches
