"""The operator's Prometheus series, served on their own port (`METRICS_PORT`) by
prometheus_client's HTTP server (the operator has no web app; kopf's /healthz is kopf's).

Every label value is from a small fixed set: handler names, outcomes, phases, child kinds
and HTTP status codes; no series per ModelServe.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ParamSpec, TypeVar

import kopf
from kubernetes.client.exceptions import ApiException
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from inference_common.modelserve import Phase

P = ParamSpec("P")
R = TypeVar("R")

SUCCESS = "success"
RETRY = "retry"
FAILED = "failed"
ERROR = "error"
GONE = "gone"
PHASES = tuple(p.value for p in Phase)
NO_PHASE = "Unknown"
# Applying a handful of children takes ~10 ms locally and seconds against a slow apiserver.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

RECONCILE_DURATION = Histogram(
    "inference_operator_reconcile_duration_seconds",
    "Time a handler took, by handler and outcome (success, retry, failed, error)",
    ["handler", "outcome"],
    buckets=DURATION_BUCKETS,
)
IN_FLIGHT = Gauge(
    "inference_operator_reconciles_in_flight",
    "Handlers running now",
    ["handler"],
)
STATUS_WRITES = Counter(
    "inference_operator_status_writes",
    "ModelServe status patches, by outcome (success, gone, error)",
    ["outcome"],
)
CHILD_APPLY_ERRORS = Counter(
    "inference_operator_child_apply_errors",
    "Children the operator could not read or write, by kind and HTTP status ('0': no answer)",
    ["kind", "code"],
)
CHILDREN_NOT_OWNED = Counter(
    "inference_operator_children_not_owned",
    "Reconciles refused because a child's name is taken by an object the ModelServe does not own",
)


def outcome_of(exc: BaseException | None) -> str:
    """How a handler ended: kopf's retry and permanent errors, or anything else raised."""
    if exc is None:
        return SUCCESS
    if isinstance(exc, kopf.TemporaryError):
        return RETRY
    if isinstance(exc, kopf.PermanentError):
        return FAILED
    return ERROR


def timed(handler: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Counts a synchronous handler in flight and observes its duration and outcome."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.monotonic()
            outcome = SUCCESS
            try:
                with IN_FLIGHT.labels(handler).track_inprogress():
                    return fn(*args, **kwargs)
            except BaseException as exc:
                outcome = outcome_of(exc)
                raise
            finally:
                RECONCILE_DURATION.labels(handler, outcome).observe(time.monotonic() - started)

        return wrapper

    return decorate


def child_apply_failed(kind: str, error: ApiException) -> None:
    CHILD_APPLY_ERRORS.labels(kind, str(error.status or 0)).inc()


def phase_counts(phases: Iterable[str | None]) -> dict[str, int]:
    """ModelServes per phase; every known phase present (0 when none), unknown ones counted
    as `Unknown`."""
    counts = dict.fromkeys((*PHASES, NO_PHASE), 0)
    for phase in phases:
        counts[phase if phase in PHASES else NO_PHASE] += 1
    return counts


class OperatorCollector(Collector):
    """ModelServes by phase (as the operator last wrote their status) and the status queue
    depth, read at scrape time from the status writer."""

    def __init__(
        self, phases: Callable[[], Iterable[str | None]], queue_depth: Callable[[], int]
    ) -> None:
        self.phases = phases
        self.queue_depth = queue_depth

    def collect(self) -> Iterator[Any]:
        by_phase = GaugeMetricFamily(
            "inference_operator_modelserves",
            "ModelServes the operator handles, by the phase it last wrote",
            labels=["phase"],
        )
        for phase, count in phase_counts(self.phases()).items():
            by_phase.add_metric([phase], count)
        yield by_phase
        yield GaugeMetricFamily(
            "inference_operator_status_queue_depth",
            "Status refreshes queued or waiting to be retried",
            value=self.queue_depth(),
        )


_collector: OperatorCollector | None = None


def watch(phases: Callable[[], Iterable[str | None]], queue_depth: Callable[[], int]) -> None:
    """Points the phase and queue series at this process's status writer (once per start)."""
    global _collector
    if _collector is not None:
        REGISTRY.unregister(_collector)
    _collector = OperatorCollector(phases, queue_depth)
    REGISTRY.register(_collector)


def serve(port: int, host: str) -> None:
    """GET /metrics on host:port, from a daemon thread."""
    start_http_server(port, host)
