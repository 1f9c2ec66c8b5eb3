"""gpu_metrics: DCGM series joined to the nodes' cards and their holders (pure), with
Prometheus answers as the stack's Prometheus and a real dcgm-exporter return them."""

from __future__ import annotations

from typing import Any

import pytest

from inference_api.gpu_metrics import QUERIES, join_gpu_metrics
from inference_api.node_inventory import node_inventory
from inference_api.prometheus_http import Sample, parse_vector

from .test_node_inventory import RTX, node, pod


def answer(*rows: tuple[dict[str, str], float]) -> dict[str, Any]:
    """An instant-query answer as Prometheus' HTTP API sends it."""
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": labels, "value": [1796000880.153, f"{value:g}"]}
                for labels, value in rows
            ],
        },
    }


# the local kubelet's labels (infra/local/.../node/metrics.py), after the node-runtime job
LOCAL_CARD_0 = {
    "Hostname": "gpu-box",
    "gpu": "0",
    "UUID": "GPU-0a1b",
    "namespace": "inference",
    "pod": "p1",
    "server_uuid": "uuid-p1",
    "instance": "127.0.0.1:10248",
    "job": "node-runtime",
}
LOCAL_CARD_1 = {"Hostname": "gpu-box", "gpu": "1", "UUID": "GPU-2c3d", "job": "node-runtime"}
# dcgm-exporter scraped by a ServiceMonitor: its own pod in namespace/pod, the card's in exported_*
DCGM_EXPORTER = {
    "Hostname": "gpu-box",
    "gpu": "1",
    "UUID": "GPU-2c3d",
    "modelName": "NVIDIA GeForce RTX 4090",
    "namespace": "gpu-operator",
    "pod": "nvidia-dcgm-exporter-x7",
    "exported_namespace": "inference",
    "exported_pod": "p2",
}


def samples(**rows: list[tuple[dict[str, str], float]]) -> dict[str, list[Sample]]:
    return {field: parse_vector(answer(*values)) for field, values in rows.items()}


NODES = [node("gpu-box", 2, labels=RTX), node("kwok-a", 4, kwok=True, labels=RTX), node("cpu")]
PODS = [pod("p1", "gpu-box", 1), pod("p2", "gpu-box", 1), pod("sim", "kwok-a", 1)]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        pytest.param(
            samples(),
            {"gpu-box": [], "kwok-a": [], "cpu": []},
            id="no series anywhere (this machine): every node not reported",
        ),
        pytest.param(
            samples(
                utilization_percent=[(LOCAL_CARD_0, 87), (LOCAL_CARD_1, 0)],
                memory_used_mib=[(LOCAL_CARD_0, 20480)],
                memory_free_mib=[(LOCAL_CARD_0, 4084)],
                temperature_c=[(LOCAL_CARD_0, 71), (LOCAL_CARD_1, 35)],
                power_w=[(LOCAL_CARD_0, 312.5)],
            ),
            {
                "gpu-box": [
                    (0, "GPU-0a1b", 87, 20480, 4084, 71, 312.5, ("inference", "p1", "uuid-p1")),
                    (1, "GPU-2c3d", 0, None, None, 35, None, None),
                ],
                "kwok-a": [],
                "cpu": [],
            },
            id="local kubelet: a held card and an idle one, missing fields stay null",
        ),
        pytest.param(
            samples(utilization_percent=[(DCGM_EXPORTER, 55)]),
            {
                "gpu-box": [
                    (1, "GPU-2c3d", 55, None, None, None, None, ("inference", "p2", "uuid-p2"))
                ],
                "kwok-a": [],
                "cpu": [],
            },
            id="dcgm-exporter: exported_pod is the holder, its server found from the node's pods",
        ),
        pytest.param(
            samples(
                utilization_percent=[
                    ({**LOCAL_CARD_1, "Hostname": "kwok-a"}, 99),
                    ({**LOCAL_CARD_1, "Hostname": "gone-node"}, 99),
                    ({"Hostname": "gpu-box", "UUID": "GPU-x"}, 99),
                ]
            ),
            {"gpu-box": [], "kwok-a": [], "cpu": []},
            id="never reported: a simulated node, an unknown node, a series without card index",
        ),
    ],
)
def test_dcgm_series_join_the_nodes_cards(
    answers: dict[str, list[Sample]], expected: dict[str, list[tuple[Any, ...]]]
) -> None:
    joined = join_gpu_metrics(node_inventory(NODES, PODS), answers)
    assert [n.node for n in joined] == ["cpu", "gpu-box", "kwok-a"]
    for result in joined:
        cards = [
            (
                c.index,
                c.uuid,
                c.utilization_percent,
                c.memory_used_mib,
                c.memory_free_mib,
                c.temperature_c,
                c.power_w,
                (c.holder.namespace, c.holder.pod, c.holder.server_uuid) if c.holder else None,
            )
            for c in result.cards
        ]
        assert cards == expected[result.node], result.node
        assert result.metrics_status == ("reported" if cards else "not reported")
    assert next(n for n in joined if n.node == "kwok-a").simulated


def test_every_query_names_its_dcgm_series_and_keeps_the_join_labels() -> None:
    for field, name in [
        ("utilization_percent", "DCGM_FI_DEV_GPU_UTIL"),
        ("memory_used_mib", "DCGM_FI_DEV_FB_USED"),
        ("memory_free_mib", "DCGM_FI_DEV_FB_FREE"),
        ("temperature_c", "DCGM_FI_DEV_GPU_TEMP"),
        ("power_w", "DCGM_FI_DEV_POWER_USAGE"),
    ]:
        assert QUERIES[field].endswith(f"({name})")
        for label in ("Hostname", "gpu", "UUID", "pod", "exported_pod", "server_uuid"):
            assert label in QUERIES[field]
