"""The operator's /metrics: label choices (pure), then the series of a real operator process
after it reconciled a ModelServe to Ready on a simulated GPU node (the real apiserver)."""

from __future__ import annotations

from collections.abc import Callable

import kopf
import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from inference_testkit.metrics import scrape, value
from inference_testkit.servers import free_port
from inference_testkit.waiting import wait_for
from modelserve_operator.metrics import (
    ERROR,
    FAILED,
    NO_PHASE,
    PHASES,
    RETRY,
    SUCCESS,
    OperatorCollector,
    outcome_of,
    phase_counts,
    timed,
)

from .conftest import Cluster, OperatorProcess, ms_body

GPU_NODES = {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-4090"}


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (None, SUCCESS),
        (kopf.TemporaryError("later", delay=1), RETRY),
        (kopf.PermanentError("never"), FAILED),
        (RuntimeError("bug"), ERROR),
    ],
)
def test_outcome_of_a_handler(exc: BaseException | None, outcome: str) -> None:
    assert outcome_of(exc) == outcome


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        ([], {}),
        (["Ready", "Ready", "Pending"], {"Ready": 2, "Pending": 1}),
        ([None, "Bogus"], {NO_PHASE: 2}),
    ],
)
def test_phase_counts_cover_every_phase(phases: list[str | None], expected: dict[str, int]) -> None:
    counts = phase_counts(phases)
    assert set(counts) == {*PHASES, NO_PHASE}
    assert {k: v for k, v in counts.items() if v} == expected


def test_timed_observes_duration_by_outcome() -> None:
    @timed("test-handler")
    def handler(fail: bool) -> str:
        if fail:
            raise kopf.TemporaryError("again", delay=1)
        return "done"

    def count(outcome: str) -> float:
        labels = {"handler": "test-handler", "outcome": outcome}
        found = REGISTRY.get_sample_value(
            "inference_operator_reconcile_duration_seconds_count", labels
        )
        return found or 0.0

    before = {outcome: count(outcome) for outcome in (SUCCESS, RETRY)}
    assert handler(fail=False) == "done"
    with pytest.raises(kopf.TemporaryError):
        handler(fail=True)
    assert handler.__name__ == "handler"  # kopf's handler ids stay the same
    assert {outcome: count(outcome) - before[outcome] for outcome in before} == {
        SUCCESS: 1,
        RETRY: 1,
    }


def test_collector_reads_phases_and_queue_depth_at_scrape_time() -> None:
    phases: list[str | None] = ["Ready"]
    registry = CollectorRegistry()
    registry.register(OperatorCollector(lambda: phases, lambda: 3))
    assert registry.get_sample_value("inference_operator_modelserves", {"phase": "Ready"}) == 1
    phases.append("Ready")
    assert registry.get_sample_value("inference_operator_modelserves", {"phase": "Ready"}) == 2
    assert registry.get_sample_value("inference_operator_status_queue_depth") == 3


def test_a_real_operator_exports_its_reconciles(
    operator_factory: Callable[..., OperatorProcess], cluster: Cluster
) -> None:
    port = free_port()
    operator_factory(METRICS_PORT=str(port), METRICS_HOST="127.0.0.1").start()
    url = f"http://127.0.0.1:{port}/metrics"
    cluster.create(ms_body("watched", gpu={"count": 1}, nodeSelector=GPU_NODES))
    cluster.wait_phase("watched", "Ready")

    def ready_counted() -> bool:
        return value(scrape(url), "inference_operator_modelserves", {"phase": "Ready"}) == 1

    wait_for(ready_counted, timeout=30, what="the Ready ModelServe in the operator's /metrics")
    samples = scrape(url)
    reconciled = {"handler": "reconcile", "outcome": SUCCESS}
    assert value(samples, "inference_operator_reconcile_duration_seconds_count", reconciled) >= 1
    assert (
        value(samples, "inference_operator_reconcile_duration_seconds_count", {"handler": "status"})
        >= 1
    )
    assert value(samples, "inference_operator_status_writes_total", {"outcome": SUCCESS}) >= 1
    assert value(samples, "inference_operator_child_apply_errors_total") == 0
    assert ("inference_operator_status_queue_depth", frozenset()) in samples
    assert value(samples, "inference_operator_reconciles_in_flight", {"handler": "reconcile"}) == 0
