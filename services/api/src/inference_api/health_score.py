"""The health score: 0-100 per server and for the platform, with the reasons that lowered it.

A server starts at 100 and loses points per signal (each capped, documented in the API's
README):

- ready replicas of those asked for (the ModelServe's status as the API mirrors it; for a
  server only Prometheus knows, its pods answering scrapes): none, 60; else 40 x the
  missing share
- requests deferred (its queue): 5 each, at most 30
- gateway error ratio of its model (5 min): above 1 %, 300 x the ratio, at most 30
- gateway TTFT p95 of its model: above the target, 20 x (p95 / target - 1), at most 20
- hottest GPU card it holds: above 80 °C, 4 per degree, at most 20
- fullest GPU card it holds: above 90 % used, 300 x (ratio - 0.9), at most 15

The score is never below 0. The platform's score is the mean of its servers' (100 with no
server); its reasons are those of the servers below 100, worst first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class ServerSignals:
    server_uuid: str
    model: str = ""
    replicas: int = 0
    replicas_ready: int = 0
    requests_deferred: float = 0.0
    error_ratio: float | None = None
    ttft_p95_seconds: float | None = None
    gpu_temperature_celsius: float | None = None
    gpu_memory_ratio: float | None = None


@dataclass(frozen=True)
class Reason:
    signal: str
    penalty: float
    message: str


@dataclass(frozen=True)
class Score:
    score: int
    reasons: list[Reason] = field(default_factory=list)


@dataclass(frozen=True)
class ServerScore:
    server_uuid: str
    model: str
    score: int
    reasons: list[Reason]


@dataclass(frozen=True)
class PlatformScore:
    score: int
    reasons: list[Reason]
    servers: list[ServerScore]


def _replicas(s: ServerSignals) -> Reason | None:
    if s.replicas <= 0 or s.replicas_ready >= s.replicas:
        return None
    if s.replicas_ready <= 0:
        return Reason("replicas", 60.0, f"none of {s.replicas} replicas is ready")
    missing = 1 - s.replicas_ready / s.replicas
    return Reason(
        "replicas",
        40 * missing,
        f"{s.replicas_ready} of {s.replicas} replicas ready",
    )


def _queue(s: ServerSignals) -> Reason | None:
    if s.requests_deferred <= 0:
        return None
    return Reason(
        "queue", min(30.0, 5 * s.requests_deferred), f"{s.requests_deferred:g} requests deferred"
    )


def _errors(s: ServerSignals) -> Reason | None:
    if s.error_ratio is None or s.error_ratio <= 0.01:
        return None
    return Reason(
        "error_rate",
        min(30.0, 300 * s.error_ratio),
        f"{s.error_ratio:.1%} of requests to {s.model or 'its model'} fail",
    )


def _ttft(s: ServerSignals, target: float) -> Reason | None:
    if s.ttft_p95_seconds is None or s.ttft_p95_seconds <= target:
        return None
    return Reason(
        "ttft",
        min(20.0, 20 * (s.ttft_p95_seconds / target - 1)),
        f"TTFT p95 {s.ttft_p95_seconds:.2f} s above the {target:g} s target",
    )


def _gpu_temperature(s: ServerSignals) -> Reason | None:
    t = s.gpu_temperature_celsius
    if t is None or t <= 80:
        return None
    return Reason("gpu_temperature", min(20.0, 4 * (t - 80)), f"a GPU is at {t:g} °C")


def _gpu_memory(s: ServerSignals) -> Reason | None:
    r = s.gpu_memory_ratio
    if r is None or r <= 0.9:
        return None
    return Reason("gpu_memory", min(15.0, 300 * (r - 0.9)), f"a GPU's memory is {r:.0%} used")


@dataclass(frozen=True)
class ServerRecord:
    """A running server as the API records it (mirrored from its ModelServe's status)."""

    server_uuid: str
    model: str
    replicas: int
    replicas_ready: int


def with_records(scraped: list[ServerSignals], records: list[ServerRecord]) -> list[ServerSignals]:
    """Every recorded server, its replica counts from its record and the rest from
    Prometheus; servers only Prometheus knows keep the counts of their scrapes."""
    by_uuid = {s.server_uuid: s for s in scraped}
    merged = {
        r.server_uuid: replace(
            by_uuid.get(r.server_uuid, ServerSignals(r.server_uuid)),
            model=r.model,
            replicas=r.replicas,
            replicas_ready=r.replicas_ready,
        )
        for r in records
    }
    for s in scraped:
        merged.setdefault(s.server_uuid, s)
    return sorted(merged.values(), key=lambda s: s.server_uuid)


def score_server(signals: ServerSignals, ttft_target_seconds: float) -> Score:
    found = [
        _replicas(signals),
        _queue(signals),
        _errors(signals),
        _ttft(signals, ttft_target_seconds),
        _gpu_temperature(signals),
        _gpu_memory(signals),
    ]
    reasons = sorted((r for r in found if r is not None), key=lambda r: -r.penalty)
    total = sum(r.penalty for r in reasons)
    return Score(max(0, round(100 - total)), reasons)


def score_platform(servers: list[ServerSignals], ttft_target_seconds: float) -> PlatformScore:
    scored = [
        ServerScore(s.server_uuid, s.model, score.score, score.reasons)
        for s in servers
        for score in [score_server(s, ttft_target_seconds)]
    ]
    scored.sort(key=lambda s: (s.score, s.server_uuid))
    if not scored:
        return PlatformScore(100, [], [])
    mean = round(sum(s.score for s in scored) / len(scored))
    reasons = [
        Reason(r.signal, r.penalty / len(scored), f"server {s.server_uuid}: {r.message}")
        for s in scored
        for r in s.reasons
    ]
    reasons.sort(key=lambda r: -r.penalty)
    return PlatformScore(mean, reasons, scored)
