"""The health score (pure) and the folding of Prometheus answers into per-server signals."""

from __future__ import annotations

from typing import Any

import pytest

from inference_api.health_score import (
    ServerRecord,
    ServerSignals,
    score_platform,
    score_server,
    with_records,
)
from inference_api.prometheus_signals import (
    PrometheusUnavailableError,
    Sample,
    assemble,
    parse_vector,
)

TARGET = 2.5
OK = ServerSignals("s1", "m1", replicas=2, replicas_ready=2)


@pytest.mark.parametrize(
    ("changes", "score", "signals"),
    [
        ({}, 100, []),
        ({"replicas_ready": 1}, 80, ["replicas"]),
        ({"replicas_ready": 0}, 40, ["replicas"]),
        ({"requests_deferred": 2}, 90, ["queue"]),
        ({"requests_deferred": 50}, 70, ["queue"]),
        ({"error_ratio": 0.01}, 100, []),
        ({"error_ratio": 0.05}, 85, ["error_rate"]),
        ({"error_ratio": 0.5}, 70, ["error_rate"]),
        ({"ttft_p95_seconds": 2.5}, 100, []),
        ({"ttft_p95_seconds": 3.75}, 90, ["ttft"]),
        ({"ttft_p95_seconds": 30.0}, 80, ["ttft"]),
        ({"gpu_temperature_celsius": 80.0}, 100, []),
        ({"gpu_temperature_celsius": 83.0}, 88, ["gpu_temperature"]),
        ({"gpu_memory_ratio": 0.95}, 85, ["gpu_memory"]),
        ({"gpu_memory_ratio": 1.0}, 85, ["gpu_memory"]),
        (
            {
                "replicas_ready": 0,
                "requests_deferred": 10,
                "error_ratio": 1.0,
                "ttft_p95_seconds": 60.0,
                "gpu_temperature_celsius": 99.0,
                "gpu_memory_ratio": 1.0,
            },
            0,
            ["replicas", "queue", "error_rate", "ttft", "gpu_temperature", "gpu_memory"],
        ),
        ({"replicas": 0, "replicas_ready": 0}, 100, []),
    ],
)
def test_server_score_loses_capped_points_per_signal_worst_first(
    changes: dict[str, Any], score: int, signals: list[str]
) -> None:
    result = score_server(ServerSignals(**{**OK.__dict__, **changes}), TARGET)
    assert result.score == score
    assert [r.signal for r in result.reasons] == signals
    assert all(r.message for r in result.reasons)


@pytest.mark.parametrize(
    ("servers", "score", "order", "reasons"),
    [
        ([], 100, [], []),
        ([OK], 100, ["s1"], []),
        (
            [OK, ServerSignals("s0", "m1", replicas=1, replicas_ready=0)],
            70,
            ["s0", "s1"],
            ["server s0: none of 1 replicas is ready"],
        ),
    ],
)
def test_platform_score_is_the_mean_and_names_the_servers_that_lowered_it(
    servers: list[ServerSignals], score: int, order: list[str], reasons: list[str]
) -> None:
    result = score_platform(servers, TARGET)
    assert result.score == score
    assert [s.server_uuid for s in result.servers] == order
    assert [r.message for r in result.reasons] == reasons


def _sample(value: float, **labels: str) -> Sample:
    return (labels, value)


def test_prometheus_answers_fold_into_one_signal_set_per_server() -> None:
    results = {
        "discovered": [
            _sample(2, server_uuid="s1", model="m1"),
            _sample(1, server_uuid="s2", model="m2"),
            _sample(1, model="orphan"),
        ],
        "up": [_sample(1, server_uuid="s1", model="m1"), _sample(1, server_uuid="s2")],
        "deferred": [_sample(3, server_uuid="s1")],
        "error_ratio": [_sample(0.2, model="m1")],
        "ttft_p95": [_sample(4.0, model="m2")],
        "gpu_temperature": [_sample(70, server_uuid="s2")],
        "gpu_memory": [_sample(0.5, server_uuid="s2")],
    }
    assert assemble(results) == [
        ServerSignals("s1", "m1", 2, 1, 3.0, 0.2, None, None, None),
        ServerSignals("s2", "m2", 1, 1, 0.0, None, 4.0, 70.0, 0.5),
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [
                        {"metric": {"model": "m"}, "value": [1, "0.5"]},
                        {"metric": {"model": "n"}, "value": [1, "NaN"]},
                    ],
                },
            },
            [({"model": "m"}, 0.5)],
        ),
        ({"status": "success", "data": {"resultType": "vector", "result": []}}, []),
    ],
)
def test_instant_query_answers_drop_nan(body: dict[str, Any], expected: list[Sample]) -> None:
    assert parse_vector(body) == expected


def test_a_failed_query_is_an_outage() -> None:
    with pytest.raises(PrometheusUnavailableError, match="bad_data"):
        parse_vector({"status": "error", "error": "bad_data"})


@pytest.mark.parametrize(
    ("scraped", "records", "expected"),
    [
        ([], [], []),
        (
            [],
            [ServerRecord("k1", "m", 2, 2)],
            [ServerSignals("k1", "m", 2, 2)],
        ),
        (
            [ServerSignals("s1", "m", 1, 1, requests_deferred=3)],
            [ServerRecord("s1", "m", 3, 1)],
            [ServerSignals("s1", "m", 3, 1, requests_deferred=3)],
        ),
        (
            [ServerSignals("x", "m", 1, 0)],
            [ServerRecord("a", "n", 1, 1)],
            [ServerSignals("a", "n", 1, 1), ServerSignals("x", "m", 1, 0)],
        ),
    ],
    ids=["nothing", "recorded-only", "record-sets-replicas", "scraped-only-kept"],
)
def test_records_give_replica_counts_and_prometheus_the_rest(
    scraped: list[ServerSignals], records: list[ServerRecord], expected: list[ServerSignals]
) -> None:
    assert with_records(scraped, records) == expected
