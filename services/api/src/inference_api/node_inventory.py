"""The cluster's nodes and GPU cards as the UI's GPUs page shows them (pure functions of the
Node and Pod objects the API already reads for its capacity check).

Card-level metrics (utilisation, memory used, temperature, power) come only from a node
that reports them; simulated (kwok) nodes never do, and no node of this platform publishes
them yet, so every node says "not reported" rather than showing made-up numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from inference_common.gpus import GPU_MEMORY_LABEL, GPU_PRODUCT_LABEL, gpu_count, pod_gpus
from inference_common.modelserve import SERVER_UUID_LABEL

KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
NOT_REPORTED = "not reported"


class GpuHolder(BaseModel):
    namespace: str
    pod: str
    server_uuid: str | None = Field(description="The server the pod belongs to, when it is one.")
    gpus: int
    phase: str


class GpuMetrics(BaseModel):
    utilization_percent: float | None = None
    memory_used_mib: int | None = None
    temperature_c: float | None = None
    power_w: float | None = None


class NodeOut(BaseModel):
    name: str
    simulated: bool = Field(description="A kwok node: scheduled onto, never runs anything.")
    ready: bool
    schedulable: bool
    gpu_product: str | None
    gpu_memory_mib: int | None = Field(description="Memory of one card (node label).")
    gpu_capacity: int
    gpu_allocatable: int
    gpu_allocated: int = Field(description="GPUs held by pods bound to the node.")
    holders: list[GpuHolder]
    metrics: GpuMetrics | None = Field(description="Live card metrics; null when not reported.")
    metrics_status: str = Field(description='"reported" or "not reported".')


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def is_simulated(node: Mapping[str, Any]) -> bool:
    meta = _meta(node)
    return KWOK_NODE_ANNOTATION in (meta.get("annotations") or {}) or (
        (meta.get("labels") or {}).get("type") == "kwok"
    )


def is_ready(node: Mapping[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _int_label(labels: Mapping[str, str], key: str) -> int | None:
    value = labels.get(key, "")
    return int(value) if value.isdigit() else None


def holders_by_node(pods: list[dict[str, Any]]) -> dict[str, list[GpuHolder]]:
    held: dict[str, list[GpuHolder]] = {}
    for pod in pods:
        gpus = pod_gpus(pod)
        node_name = (pod.get("spec") or {}).get("nodeName")
        phase = str((pod.get("status") or {}).get("phase") or "Unknown")
        if not gpus or not node_name or phase in {"Succeeded", "Failed"}:
            continue
        meta = _meta(pod)
        held.setdefault(str(node_name), []).append(
            GpuHolder(
                namespace=str(meta.get("namespace") or ""),
                pod=str(meta.get("name") or ""),
                server_uuid=(meta.get("labels") or {}).get(SERVER_UUID_LABEL),
                gpus=gpus,
                phase=phase,
            )
        )
    return held


def node_inventory(nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> list[NodeOut]:
    """Every node, sorted by name, with its cards and the pods holding them (pure)."""
    held = holders_by_node(pods)
    result: list[NodeOut] = []
    for node in nodes:
        name = str(_meta(node).get("name") or "")
        labels: Mapping[str, str] = _meta(node).get("labels") or {}
        status = node.get("status") or {}
        holders = sorted(held.get(name, []), key=lambda h: (h.namespace, h.pod))
        result.append(
            NodeOut(
                name=name,
                simulated=is_simulated(node),
                ready=is_ready(node),
                schedulable=not (node.get("spec") or {}).get("unschedulable"),
                gpu_product=labels.get(GPU_PRODUCT_LABEL),
                gpu_memory_mib=_int_label(labels, GPU_MEMORY_LABEL),
                gpu_capacity=gpu_count(status.get("capacity")),
                gpu_allocatable=gpu_count(status.get("allocatable")),
                gpu_allocated=sum(h.gpus for h in holders),
                holders=holders,
                metrics=None,
                metrics_status=NOT_REPORTED,
            )
        )
    return sorted(result, key=lambda n: n.name)
