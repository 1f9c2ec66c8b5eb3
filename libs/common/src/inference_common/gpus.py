"""GPUs of Kubernetes nodes: the resource and labels, which nodes a ModelServe's GPU request
may land on, and how many GPUs each node has free (pure functions of Node and Pod objects).

The operator schedules with these rules (node selector, memory affinity) and explains
unschedulable replicas with `free_gpus`; the API refuses requests no node could ever hold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_MEMORY_LABEL = "nvidia.com/gpu.memory"
GPU_MEMORY_TOLERANCE = 0.02
"""Cards report a little less than their nominal size (a 24 GiB card: 24564 MiB)."""


def min_memory_mib(min_memory_gib: int) -> int:
    """The node-label value (MiB) a card must reach to count as `min_memory_gib` GiB."""
    return math.floor(min_memory_gib * 1024 * (1 - GPU_MEMORY_TOLERANCE))


def gpu_count(resources: Mapping[str, Any] | None) -> int:
    """`nvidia.com/gpu` of a resource list (allocatable, requests, limits); 0 when absent."""
    if not resources:
        return 0
    value = resources.get(GPU_RESOURCE)
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def pod_gpus(pod: Mapping[str, Any]) -> int:
    """GPUs a pod holds: the larger of its containers' sum and its biggest init container."""
    spec = pod.get("spec") or {}

    def need(container: Mapping[str, Any]) -> int:
        res = container.get("resources") or {}
        return max(gpu_count(res.get("limits")), gpu_count(res.get("requests")))

    main = sum(need(c) for c in spec.get("containers") or [])
    init = max((need(c) for c in spec.get("initContainers") or []), default=0)
    return max(main, init)


def free_gpus(
    nodes: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]]
) -> dict[str, int]:
    """Allocatable GPUs per schedulable node minus what running and pending pods on it hold."""
    free: dict[str, int] = {}
    for node in nodes:
        if (node.get("spec") or {}).get("unschedulable"):
            continue
        name = str((node.get("metadata") or {}).get("name"))
        free[name] = gpu_count((node.get("status") or {}).get("allocatable"))
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        if node_name in free and phase not in {"Succeeded", "Failed"}:
            free[node_name] -= pod_gpus(pod)
    return {name: max(0, count) for name, count in free.items()}


def node_matches(
    labels: Mapping[str, str],
    node_selector: Mapping[str, str] | None,
    product: str | None,
    min_memory_gib: int | None,
) -> bool:
    """Whether a node with these labels passes a ModelServe's node selector, GPU product and
    minimum card memory (the operator's nodeSelector and memory affinity)."""
    wanted = dict(node_selector or {})
    if product:
        wanted[GPU_PRODUCT_LABEL] = product
    if any(labels.get(key) != value for key, value in wanted.items()):
        return False
    if min_memory_gib is None:
        return True
    memory = labels.get(GPU_MEMORY_LABEL, "")
    return memory.isdigit() and int(memory) >= min_memory_mib(min_memory_gib)
