"""Live per-card GPU figures for the GPUs page: the DCGM exporter's series (as real
dcgm-exporter and the local kubelet name them) joined to `GET /nodes`'s cards (pure).

A series belongs to the node named by its `Hostname` label (dcgm-exporter's; `node` when a
relabelling put it there) and to the card of its `gpu` index and `UUID`. The card's holder is
the pod named on the series (`exported_pod` / `exported_namespace` first: dcgm-exporter's pod
labels scraped without `honor_labels`), its server taken from the series' `server_uuid` or,
failing that, from the pod among the node's holders. Simulated nodes are never "reported",
whatever a series claims; a series of a node the cluster does not list is left out.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from inference_api.node_inventory import NOT_REPORTED, NodeOut
from inference_api.prometheus_http import Sample

REPORTED = "reported"

# field of CardMetrics -> DCGM series
FIELDS: dict[str, str] = {
    "utilization_percent": "DCGM_FI_DEV_GPU_UTIL",
    "memory_used_mib": "DCGM_FI_DEV_FB_USED",
    "memory_free_mib": "DCGM_FI_DEV_FB_FREE",
    "temperature_c": "DCGM_FI_DEV_GPU_TEMP",
    "power_w": "DCGM_FI_DEV_POWER_USAGE",
}
CARD_LABELS = (
    "Hostname, node, gpu, UUID, namespace, pod, exported_namespace, exported_pod, server_uuid"
)
QUERIES: dict[str, str] = {
    field: f"max by ({CARD_LABELS}) ({name})" for field, name in FIELDS.items()
}


class CardHolder(BaseModel):
    namespace: str
    pod: str
    server_uuid: str | None


class CardMetrics(BaseModel):
    index: int
    uuid: str | None
    utilization_percent: float | None = None
    memory_used_mib: float | None = None
    memory_free_mib: float | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    holder: CardHolder | None = Field(None, description="The pod (server) holding the card.")


class NodeGpuMetricsOut(BaseModel):
    node: str
    simulated: bool
    metrics_status: str = Field(description='"reported" or "not reported".')
    cards: list[CardMetrics] = Field(
        description="Cards with series, by index; empty when not reported."
    )


def sample_node(labels: Mapping[str, str]) -> str:
    return labels.get("Hostname") or labels.get("node") or ""


def _index(labels: Mapping[str, str]) -> int | None:
    text = labels.get("gpu", "")
    return int(text) if text.isdigit() else None


def _holder(
    labels: Mapping[str, str], servers_by_pod: Mapping[tuple[str, str], str | None]
) -> CardHolder | None:
    # dcgm-exporter scraped without honor_labels moves the card's pod to exported_*
    namespace = labels.get("exported_namespace") or labels.get("namespace", "")
    pod = labels.get("exported_pod") or labels.get("pod", "")
    if not pod:
        return None
    server = labels.get("server_uuid") or servers_by_pod.get((namespace, pod))
    return CardHolder(namespace=namespace, pod=pod, server_uuid=server)


def _cards(node: NodeOut, samples: Mapping[str, list[Sample]]) -> list[CardMetrics]:
    servers_by_pod = {(h.namespace, h.pod): h.server_uuid for h in node.holders}
    cards: dict[int, CardMetrics] = {}
    for field, answer in samples.items():
        if field not in FIELDS:
            continue
        for labels, value in answer:
            index = _index(labels)
            if index is None or sample_node(labels) != node.name:
                continue
            card = cards.setdefault(
                index, CardMetrics(index=index, uuid=labels.get("UUID") or None)
            )
            setattr(card, field, value)
            if card.holder is None:
                card.holder = _holder(labels, servers_by_pod)
    return [cards[i] for i in sorted(cards)]


def join_gpu_metrics(
    nodes: list[NodeOut], samples: Mapping[str, list[Sample]]
) -> list[NodeGpuMetricsOut]:
    """Every node of `nodes`, with its cards' figures where its series exist (pure)."""
    result = []
    for node in nodes:
        cards = [] if node.simulated else _cards(node, samples)
        result.append(
            NodeGpuMetricsOut(
                node=node.name,
                simulated=node.simulated,
                metrics_status=REPORTED if cards else NOT_REPORTED,
                cards=cards,
            )
        )
    return result
