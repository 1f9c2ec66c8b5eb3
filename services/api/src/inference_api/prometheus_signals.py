"""Reads the health score's signals from Prometheus: a few instant queries run side by side
(httpx, one timeout each), folded into one `ServerSignals` per server by a pure function.
Prometheus unreachable, timing out or answering an error is `PrometheusUnavailableError`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx

from inference_api.health_score import ServerSignals
from inference_api.prometheus_http import (
    PrometheusUnavailableError,
    Sample,
    instant_query,
    parse_vector,
)

__all__ = ["PrometheusUnavailableError", "Sample", "assemble", "parse_vector", "read_signals"]

QUERIES: dict[str, str] = {
    "discovered": 'count by (server_uuid, model) (up{job="llama-cpp"})',
    "up": 'sum by (server_uuid, model) (up{job="llama-cpp"})',
    "deferred": "sum by (server_uuid) (llamacpp:requests_deferred)",
    "error_ratio": (
        "sum by (model) (rate(gateway_errors_total[5m]))"
        " / sum by (model) (rate(gateway_requests_total[5m]))"
    ),
    "ttft_p95": (
        "histogram_quantile(0.95, sum by (model, le) "
        "(rate(gateway_time_to_first_token_seconds_bucket[5m])))"
    ),
    "gpu_temperature": "max by (server_uuid) (DCGM_FI_DEV_GPU_TEMP)",
    "gpu_memory": (
        "max by (server_uuid) (DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE))"
    ),
}


def _by(results: Mapping[str, list[Sample]], key: str, label: str) -> dict[str, float]:
    return {labels.get(label, ""): value for labels, value in results.get(key, [])}


def assemble(results: Mapping[str, list[Sample]]) -> list[ServerSignals]:
    """One `ServerSignals` per server Prometheus scrapes; per-model gateway signals go to
    every server of that model."""
    up = _by(results, "up", "server_uuid")
    deferred = _by(results, "deferred", "server_uuid")
    temperature = _by(results, "gpu_temperature", "server_uuid")
    memory = _by(results, "gpu_memory", "server_uuid")
    error_ratio = _by(results, "error_ratio", "model")
    ttft = _by(results, "ttft_p95", "model")
    servers = [
        ServerSignals(
            server_uuid=uuid,
            model=model,
            replicas=int(discovered),
            replicas_ready=int(up.get(uuid, 0)),
            requests_deferred=deferred.get(uuid, 0.0),
            error_ratio=error_ratio.get(model),
            ttft_p95_seconds=ttft.get(model),
            gpu_temperature_celsius=temperature.get(uuid),
            gpu_memory_ratio=memory.get(uuid),
        )
        for labels, discovered in results.get("discovered", [])
        for uuid, model in [(labels.get("server_uuid", ""), labels.get("model", ""))]
        if uuid
    ]
    return sorted(servers, key=lambda s: s.server_uuid)


async def read_signals(client: httpx.AsyncClient, base_url: str) -> list[ServerSignals]:
    names = list(QUERIES)
    answers = await asyncio.gather(*(instant_query(client, base_url, QUERIES[n]) for n in names))
    return assemble(dict(zip(names, answers, strict=True)))
