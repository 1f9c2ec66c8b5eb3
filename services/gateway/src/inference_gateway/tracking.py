"""Request progress (GET /api/progress/{id}), the gateway's Prometheus metrics (unless
GATEWAY_METRICS is off) and the fields of each request's access-log line."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from inference_common.logging import collecting_request_fields, request_fields
from inference_gateway.requestlog import access_fields, llama_identifiers

REQUESTS = Counter(
    "gateway_requests_total",
    "Inference requests by API, model and status",
    ["api", "model", "status"],
)
ERRORS = Counter(
    "gateway_errors_total",
    "Failed inference requests by API, model and kind",
    ["api", "model", "kind"],
)
IN_FLIGHT = Gauge("gateway_in_flight_requests", "Requests being served", ["api", "model"])
TTFT = Histogram(
    "gateway_time_to_first_token_seconds",
    "Time to first generated token",
    ["api", "model"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TOKENS_PER_SECOND = Histogram(
    "gateway_tokens_per_second",
    "Generated tokens per second per request",
    ["api", "model"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
UPSTREAM_LATENCY = Histogram(
    "gateway_upstream_latency_seconds",
    "Time until the replica's response headers",
    ["api", "model"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

KEEP_FINISHED = 2048

# labels() costs ~10 µs (validation, a lock); the gateway asks for the same few series on
# every request, so their children are kept
_in_flight = lru_cache(maxsize=4096)(IN_FLIGHT.labels)
_requests = lru_cache(maxsize=4096)(REQUESTS.labels)
_errors = lru_cache(maxsize=4096)(ERRORS.labels)
_ttft = lru_cache(maxsize=4096)(TTFT.labels)
_tokens_per_second = lru_cache(maxsize=4096)(TOKENS_PER_SECOND.labels)
_upstream_latency = lru_cache(maxsize=4096)(UPSTREAM_LATENCY.labels)


@dataclass
class Progress:
    request_id: str
    api: str
    model: str
    owner: str
    started: float = field(default_factory=time.monotonic)
    state: str = "queued"
    tokens: int = 0
    first_token_at: float | None = None
    finished_at: float | None = None
    metered: bool = True
    replica: str | None = None
    server_uuid: str | None = None
    upstream_seconds: float | None = None
    llama: dict[str, Any] = field(default_factory=dict)

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        now = time.monotonic() if now is None else now
        end = self.finished_at or now
        elapsed = end - self.started
        generating = end - (self.first_token_at or end)
        return {
            "request_id": self.request_id,
            "api": self.api,
            "model": self.model,
            "state": self.state,
            "tokens": self.tokens,
            "elapsed_seconds": round(elapsed, 6),
            "time_to_first_token_seconds": (
                round(self.first_token_at - self.started, 6) if self.first_token_at else None
            ),
            "tokens_per_second": round(self.tokens / generating, 3) if generating > 0 else None,
        }


class Tracker:
    """Live and recently finished requests (bounded) plus their metrics (`metrics`: kept
    in Prometheus series or not at all)."""

    def __init__(self, keep: int = KEEP_FINISHED, metrics: bool = True) -> None:
        self.keep = keep
        self.metrics = metrics
        self._items: OrderedDict[str, Progress] = OrderedDict()

    def start(self, request_id: str, api: str, model: str, owner: str) -> Progress:
        progress = Progress(request_id, api, model, owner, metered=self.metrics)
        self._items[request_id] = progress
        while len(self._items) > self.keep:
            self._items.popitem(last=False)
        if self.metrics:
            _in_flight(api, model).inc()
        return progress

    def get(self, request_id: str) -> Progress | None:
        return self._items.get(request_id)

    @staticmethod
    def upstream_answered(
        progress: Progress, seconds: float, replica: str, server_uuid: str | None
    ) -> None:
        progress.state = "running"
        progress.replica = replica
        progress.server_uuid = server_uuid
        progress.upstream_seconds = seconds
        if progress.metered:
            _upstream_latency(progress.api, progress.model).observe(seconds)

    @staticmethod
    def answer(progress: Progress, answer: dict[str, Any]) -> None:
        """Notes llama.cpp's own identifiers from its answer or a chunk of it."""
        if not collecting_request_fields():
            return
        if "timings" in answer or "llama_completion_id" not in progress.llama:
            progress.llama.update(llama_identifiers(answer))

    @staticmethod
    def tokens(progress: Progress, count: int = 1) -> None:
        if progress.first_token_at is None:
            progress.first_token_at = time.monotonic()
            if progress.metered:
                _ttft(progress.api, progress.model).observe(
                    progress.first_token_at - progress.started
                )
        progress.tokens += count

    @staticmethod
    def finish(
        progress: Progress,
        state: str,
        status: int,
        error_kind: str | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        if progress.finished_at is not None:
            return
        progress.finished_at = time.monotonic()
        progress.state = state
        if completion_tokens is not None:
            progress.tokens = completion_tokens
        if collecting_request_fields():
            request_fields().update(
                access_fields(
                    progress.api,
                    progress.model,
                    progress.server_uuid,
                    progress.replica,
                    state,
                    error_kind,
                    progress.tokens,
                    progress.upstream_seconds,
                    None
                    if progress.first_token_at is None
                    else progress.first_token_at - progress.started,
                    progress.llama,
                )
            )
        if not progress.metered:
            return
        _in_flight(progress.api, progress.model).dec()
        _requests(progress.api, progress.model, str(status)).inc()
        if error_kind is not None:
            _errors(progress.api, progress.model, error_kind).inc()
        if progress.first_token_at is not None and progress.tokens:
            seconds = progress.finished_at - progress.first_token_at
            if seconds > 0:
                _tokens_per_second(progress.api, progress.model).observe(progress.tokens / seconds)
