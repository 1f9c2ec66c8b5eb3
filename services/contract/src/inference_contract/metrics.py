"""The contract service's Prometheus series (served by the shared `GET /metrics`).

Admission: every AdmissionReview answered, by operation and outcome; every refusal by the
rule's reason code; how long an answer took.

Quotas: `inference_quota_used` / `inference_quota_limit` by scope (`user`, `namespace`),
subject and resource (`servers`, `gpus`, `gpu_memory_gib`). A scrape reads gauges only: a
background task recomputes them in three queries, every `REFRESH_SECONDS` and soon after any
write request (at most once per `MIN_GAP_SECONDS`). Label sets stay bounded: only subjects
that hold a reservation, at most `MAX_SUBJECTS` of them (the fullest first), and a limit
series only where a limit exists (no series means no limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from inference_common.outages import OutageLog, outage_of
from inference_common.tables import NamespaceContract, Reservation, UserContract
from inference_contract.limits import Limits, effective, namespace_defaults, user_defaults
from inference_contract.repository import contract_values
from inference_contract.settings import ContractSettings

logger = logging.getLogger(__name__)
outage_log = OutageLog(logger)

OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
UNSPECIFIED_REASON = "unspecified"
# The apiserver gives a webhook 10 s at most.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RESOURCES = {"servers": "max_servers", "gpus": "max_gpus", "gpu_memory_gib": "max_gpu_memory_gib"}
REFRESH_SECONDS = 15.0
MIN_GAP_SECONDS = 1.0
MAX_SUBJECTS = 500
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

ADMISSION_REVIEWS = Counter(
    "inference_admission_reviews",
    "ModelServe AdmissionReviews answered, by operation and outcome",
    ["operation", "allowed"],
)
ADMISSION_DENIALS = Counter(
    "inference_admission_denials",
    "ModelServe AdmissionReviews refused, by the rule's reason code (one per rule broken)",
    ["reason"],
)
ADMISSION_LATENCY = Histogram(
    "inference_admission_duration_seconds",
    "Time to answer a ModelServe AdmissionReview",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
QUOTA_USED = Gauge(
    "inference_quota_used",
    "What a user or namespace holds, by resource",
    ["scope", "subject", "resource"],
)
QUOTA_LIMIT = Gauge(
    "inference_quota_limit",
    "The effective quota of a user or namespace, by resource (absent: no limit)",
    ["scope", "subject", "resource"],
)


# --- admission -------------------------------------------------------------------------


def operation_label(operation: str) -> str:
    return operation if operation in OPERATIONS else "other"


def review_outcome(answer: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """Whether an AdmissionReview answer allows, and the reason codes of a refusal (the
    rules' codes, comma-separated in the first cause)."""
    response = answer.get("response") or {}
    if response.get("allowed"):
        return True, []
    causes = ((response.get("status") or {}).get("details") or {}).get("causes") or []
    codes = str(causes[0].get("reason", "")) if causes else ""
    return False, [c for c in codes.split(",") if c] or [UNSPECIFIED_REASON]


def review_answered(operation: str, answer: Mapping[str, Any], seconds: float) -> None:
    allowed, reasons = review_outcome(answer)
    label = operation_label(operation)
    ADMISSION_REVIEWS.labels(label, "true" if allowed else "false").inc()
    ADMISSION_LATENCY.labels(label).observe(seconds)
    for reason in reasons:
        ADMISSION_DENIALS.labels(reason).inc()


# --- quotas ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageRow:
    """The reservations of one (owner, namespace), summed."""

    owner: str | None
    namespace: str
    servers: int
    gpus: int
    gpu_memory_gib: int


@dataclass(frozen=True)
class QuotaSample:
    scope: str
    subject: str
    resource: str
    used: int
    limit: int | None


def _sum_by(rows: Iterable[UsageRow], key: str) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        subject = getattr(row, key)
        if subject is None:
            continue
        into = totals.setdefault(subject, dict.fromkeys(RESOURCES, 0))
        for resource in RESOURCES:
            into[resource] += getattr(row, resource)
    return totals


def _fullness(used: Mapping[str, int], limits: Limits) -> float:
    ratios = [
        used[r] / limit
        for r, field in RESOURCES.items()
        if (limit := getattr(limits, field)) is not None and limit > 0
    ]
    return max(ratios, default=0.0)


def quota_samples(
    held: Sequence[UsageRow],
    user_limits: Mapping[str, Limits],
    namespace_limits: Mapping[str, Limits],
    max_subjects: int = MAX_SUBJECTS,
) -> list[QuotaSample]:
    """Used and limit per subject and resource (pure). `*_limits` hold the effective limits
    of every subject in `held`; the `max_subjects` fullest subjects are kept."""
    subjects: list[tuple[float, str, str, dict[str, int], Limits]] = []
    for scope, key, limits_of in (
        ("user", "owner", user_limits),
        ("namespace", "namespace", namespace_limits),
    ):
        for subject, used in _sum_by(held, key).items():
            limits = limits_of[subject]
            subjects.append((_fullness(used, limits), scope, subject, used, limits))
    subjects.sort(key=lambda s: (-s[0], s[1], s[2]))
    return [
        QuotaSample(scope, subject, resource, used[resource], getattr(limits, field))
        for _, scope, subject, used, limits in subjects[:max_subjects]
        for resource, field in RESOURCES.items()
    ]


def publish(samples: Iterable[QuotaSample]) -> None:
    """Replaces the quota gauges (no await inside: a scrape sees the old set or the new)."""
    QUOTA_USED.clear()
    QUOTA_LIMIT.clear()
    for s in samples:
        QUOTA_USED.labels(s.scope, s.subject, s.resource).set(s.used)
        if s.limit is not None:
            QUOTA_LIMIT.labels(s.scope, s.subject, s.resource).set(s.limit)


async def read_quota_samples(
    session: AsyncSession, settings: ContractSettings, max_subjects: int = MAX_SUBJECTS
) -> list[QuotaSample]:
    """Three queries: usage by (owner, namespace), then the contracts of those subjects."""
    r = Reservation
    gpus = r.replicas * r.gpus_per_replica
    rows = await session.execute(
        select(
            r.owner,
            r.namespace,
            func.count().filter(r.replicas > 0),
            func.coalesce(func.sum(gpus), 0),
            func.coalesce(func.sum(gpus * r.gpu_memory_gib_per_gpu), 0),
        ).group_by(r.owner, r.namespace)
    )
    held = [UsageRow(o, n, int(s), int(g), int(m)) for o, n, s, g, m in rows]
    owners = {h.owner for h in held if h.owner is not None}
    namespaces = {h.namespace for h in held}
    users = await session.scalars(select(UserContract).where(UserContract.username.in_(owners)))
    spaces = await session.scalars(
        select(NamespaceContract).where(NamespaceContract.namespace.in_(namespaces))
    )
    user_rows = {c.username: c for c in users}
    space_rows = {c.namespace: c for c in spaces}
    user_limits = {
        o: effective(contract_values(user_rows.get(o)), user_defaults(settings)) for o in owners
    }
    namespace_limits = {
        n: effective(contract_values(space_rows.get(n)), namespace_defaults(settings))
        for n in namespaces
    }
    return quota_samples(held, user_limits, namespace_limits, max_subjects)


class QuotaGauges:
    """Keeps the quota gauges fresh from a background task (see the module docstring)."""

    def __init__(
        self,
        settings: ContractSettings,
        refresh_seconds: float = REFRESH_SECONDS,
        min_gap_seconds: float = MIN_GAP_SECONDS,
    ) -> None:
        self.settings = settings
        self.refresh_seconds = refresh_seconds
        self.min_gap_seconds = min_gap_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Something may have changed: refresh soon."""
        self._wake.set()

    def start(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._task = asyncio.create_task(self._run(sessions))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session:
            samples = await read_quota_samples(session, self.settings)
        publish(samples)

    async def _run(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        while True:
            started = time.monotonic()
            self._wake.clear()
            try:
                await self.refresh(sessions)
            except Exception as exc:  # the gauges keep their last values
                dependency = outage_of(exc)
                if dependency is None:
                    logger.exception("could not refresh the quota metrics")
                else:
                    outage_log.report(dependency, exc)
            await asyncio.sleep(max(0.0, self.min_gap_seconds - (time.monotonic() - started)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.refresh_seconds)


class RefreshQuotasOnWrite:
    """ASGI middleware: after each write request (reserve, resize, release, admission,
    contract change), asks `QuotaGauges` for a refresh; the response is not delayed."""

    def __init__(self, app: ASGIApp, gauges: QuotaGauges) -> None:
        self.app = app
        self.gauges = gauges

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http" and scope.get("method") in WRITE_METHODS:
                self.gauges.poke()
