"""ModelServe status from observed state: a pure function of the Deployment and its pods.

Phase rules (desired = spec.replicas, ready = pods Ready and not terminating):
- invalid spec → Failed; desired 0 → Stopped; no Deployment yet → Pending;
- ready ≥ desired → Ready; 0 < ready < desired → Degraded (with the reason of the others);
- ready = 0: a failed fetch, crash loop, image pull error or failed Deployment → Failed;
  an unschedulable pod → Pending (reason Unschedulable, the scheduler's message);
  the fetch init container running → Downloading; the server running, not ready → Loading;
  the model in place (pod Initialized) or the server running, not ready → Loading;
  otherwise Pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inference_common.modelserve import (
    Condition,
    ConditionStatus,
    ModelServeStatus,
    Phase,
    endpoint_path,
)
from modelserve_operator.fetchpod import FETCH_CONTAINER
from modelserve_operator.manifests import SERVER_CONTAINER

_PULL_ERRORS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
_FATAL_WAITING = _PULL_ERRORS | frozenset(
    {"CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
)


@dataclass(frozen=True)
class Problem:
    reason: str
    message: str
    fatal: bool


@dataclass(frozen=True)
class PodView:
    """What status needs from one pod (kept small: the operator indexes every pod)."""

    name: str
    terminating: bool
    ready: bool
    unschedulable: str | None
    fetching: bool
    server_running: bool
    problem: Problem | None
    initialized: bool = False
    created: float | None = None
    """metadata.creationTimestamp as epoch seconds."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "terminating": self.terminating,
            "ready": self.ready,
            "unschedulable": self.unschedulable,
            "fetching": self.fetching,
            "server_running": self.server_running,
            "problem": None if self.problem is None else self.problem.__dict__,
            "initialized": self.initialized,
            "created": self.created,
        }


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    status = obj.get("status") or {}
    return {c.get("type", ""): c for c in status.get("conditions") or []}


def _container_problem(status: Mapping[str, Any], what: str) -> Problem | None:
    state = status.get("state") or {}
    waiting = state.get("waiting") or {}
    reason = waiting.get("reason")
    if reason in _FATAL_WAITING:
        message = waiting.get("message") or ""
        last = (status.get("lastState") or {}).get("terminated") or {}
        if reason == "CrashLoopBackOff" and last:
            message = (
                f"{what} exited with code {last.get('exitCode')}"
                f" ({last.get('reason', 'Error')}): {last.get('message', '').strip()}"
            ).rstrip(": ")
        return Problem(reason=reason, message=f"{what}: {message}".strip(": "), fatal=True)
    terminated = state.get("terminated") or {}
    if terminated and terminated.get("exitCode", 0) != 0:
        return Problem(
            reason="ContainerFailed",
            message=(
                f"{what} exited with code {terminated.get('exitCode')}: "
                f"{(terminated.get('message') or terminated.get('reason') or '').strip()}"
            ),
            fatal=True,
        )
    return None


def pod_view(pod: Mapping[str, Any]) -> PodView:
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    conditions = _conditions(pod)
    scheduled = conditions.get("PodScheduled") or {}
    unschedulable = None
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        unschedulable = str(scheduled.get("message") or "no node fits the pod")
    ready = (conditions.get("Ready") or {}).get("status") == "True"
    initialized = (conditions.get("Initialized") or {}).get("status") == "True"

    problem: Problem | None = None
    fetching = False
    for init in status.get("initContainerStatuses") or []:
        if init.get("name") != FETCH_CONTAINER:
            continue
        fetching = "running" in (init.get("state") or {})
        found = _container_problem(init, "model fetch")
        if found is not None:
            problem = Problem("ModelFetchFailed", found.message, fatal=True)
            if found.reason in _PULL_ERRORS:
                problem = Problem(found.reason, found.message, fatal=True)
    server_running = False
    for container in status.get("containerStatuses") or []:
        if container.get("name") != SERVER_CONTAINER:
            continue
        server_running = "running" in (container.get("state") or {})
        found = _container_problem(container, "llama.cpp server")
        if found is not None and problem is None:
            problem = found
    if unschedulable is not None and problem is None:
        problem = Problem("Unschedulable", unschedulable, fatal=False)
    return PodView(
        name=str(meta.get("name", "")),
        terminating=bool(meta.get("deletionTimestamp")),
        ready=ready,
        unschedulable=unschedulable,
        fetching=fetching,
        server_running=server_running,
        problem=problem,
        initialized=initialized,
        created=_epoch(meta.get("creationTimestamp")),
    )


def _epoch(timestamp: Any) -> float | None:
    if not timestamp:
        return None
    try:
        return datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def pod_view_from_dict(data: Mapping[str, Any]) -> PodView:
    problem = data.get("problem")
    return PodView(
        name=data["name"],
        terminating=data["terminating"],
        ready=data["ready"],
        unschedulable=data["unschedulable"],
        fetching=data["fetching"],
        server_running=data["server_running"],
        problem=None if problem is None else Problem(**problem),
        initialized=bool(data.get("initialized", False)),
        created=data.get("created"),
    )


STUCK_AFTER_SECONDS = 20.0


def _silent(view: PodView) -> bool:
    return not (
        view.ready
        or view.terminating
        or view.unschedulable
        or view.problem
        or view.fetching
        or view.initialized
        or view.server_running
    )


def stuck_pods(
    views: Sequence[PodView], now: float, after: float = STUCK_AFTER_SECONDS
) -> tuple[list[PodView], float | None]:
    """Pods whose status has said nothing about why they do not start for `after` seconds
    (their Warning events tell, e.g. FailedMount), and when to look again at younger ones."""
    stuck: list[PodView] = []
    recheck: float | None = None
    for view in views:
        if not _silent(view) or view.created is None:
            continue
        age = now - view.created
        if age >= after:
            stuck.append(view)
        else:
            wait = after - age
            recheck = wait if recheck is None else min(recheck, wait)
    return stuck, recheck


def latest_warning(events: Sequence[Mapping[str, Any]]) -> Problem | None:
    """The newest Warning event of a pod as a (non-fatal) problem."""
    warnings = [e for e in events if e.get("type") == "Warning"]
    if not warnings:
        return None

    def when(event: Mapping[str, Any]) -> str:
        return str(
            event.get("lastTimestamp")
            or event.get("eventTime")
            or event.get("firstTimestamp")
            or ""
        )

    newest = max(warnings, key=when)
    return Problem(
        str(newest.get("reason") or "Warning"), str(newest.get("message") or "").strip(), False
    )


def gpu_free_message(gpu_free: Mapping[str, int], requested: int) -> str:
    """E.g. "free nvidia.com/gpu per node: kwok-0=3, kwok-1=4 (5 requested per replica)"."""
    nodes = ", ".join(f"{node}={free}" for node, free in sorted(gpu_free.items()))
    return f"free nvidia.com/gpu per node: {nodes or 'none'} ({requested} requested per replica)"


@dataclass(frozen=True)
class Observed:
    """Everything the status is computed from."""

    generation: int
    desired_replicas: int
    server_uuid: str
    selector: str
    deployment: Mapping[str, Any] | None
    pods: Sequence[PodView]
    spec_error: str | None = None
    apply_error: Problem | None = None
    gpu_request: int = 0
    gpu_free: Mapping[str, int] | None = None
    pod_warnings: Mapping[str, Problem] | None = None
    """Latest Warning event per stuck pod (e.g. FailedMount), when the pod status is silent."""


def _problem_of(views: Sequence[PodView]) -> Problem | None:
    problems = [v.problem for v in views if v.problem is not None]
    fatal = [p for p in problems if p.fatal]
    ranked = fatal or problems
    return ranked[0] if ranked else None


def _deployment_failure(deployment: Mapping[str, Any]) -> Problem | None:
    conditions = _conditions(deployment)
    failure = conditions.get("ReplicaFailure") or {}
    if failure.get("status") == "True":
        return Problem(
            str(failure.get("reason") or "ReplicaFailure"), str(failure.get("message", "")), True
        )
    progressing = conditions.get("Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return Problem("ProgressDeadlineExceeded", str(progressing.get("message", "")), True)
    return None


def _phase(obs: Observed, ready: int, live: Sequence[PodView]) -> tuple[Phase, str, str]:
    if obs.spec_error is not None:
        return Phase.FAILED, "InvalidSpec", obs.spec_error
    if obs.apply_error is not None and obs.apply_error.fatal:
        return Phase.FAILED, obs.apply_error.reason, obs.apply_error.message
    if obs.desired_replicas == 0:
        return Phase.STOPPED, "Stopped", "replicas is 0"
    if obs.deployment is None:
        if obs.apply_error is not None:
            return Phase.PENDING, obs.apply_error.reason, obs.apply_error.message
        return Phase.PENDING, "Reconciling", "the Deployment does not exist yet"
    if ready >= obs.desired_replicas:
        return Phase.READY, "AllReplicasReady", f"{ready}/{obs.desired_replicas} replicas ready"
    not_ready = [v for v in live if not v.ready]
    problem = _problem_of(not_ready) or _deployment_failure(obs.deployment)
    if problem is None and obs.pod_warnings:
        stuck = [obs.pod_warnings[v.name] for v in not_ready if v.name in obs.pod_warnings]
        problem = stuck[0] if stuck else None
    if problem is not None and problem.reason == "Unschedulable" and obs.gpu_free is not None:
        problem = Problem(
            problem.reason,
            f"{problem.message}; {gpu_free_message(obs.gpu_free, obs.gpu_request)}",
            problem.fatal,
        )
    counts = f"{ready}/{obs.desired_replicas} replicas ready"
    if ready > 0:
        if problem is not None:
            return Phase.DEGRADED, problem.reason, f"{counts}: {problem.message}"
        return Phase.DEGRADED, "ReplicasNotReady", counts
    if problem is not None:
        phase = Phase.FAILED if problem.fatal else Phase.PENDING
        return phase, problem.reason, problem.message
    if any(v.fetching for v in not_ready):
        return Phase.DOWNLOADING, "Downloading", "fetching and verifying the model file"
    if any(v.server_running or (v.initialized and not v.unschedulable) for v in not_ready):
        return Phase.LOADING, "Loading", "llama.cpp is loading the model"
    return Phase.PENDING, "PodsPending", counts


def _condition(
    type_: str,
    ok: bool,
    reason: str,
    message: str,
    previous: Mapping[str, Condition],
    now: str,
) -> Condition:
    status = ConditionStatus.TRUE if ok else ConditionStatus.FALSE
    before = previous.get(type_)
    since = before.last_transition_time if before is not None and before.status == status else None
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message[:32768],
        last_transition_time=since or now,
    )


def compute_status(
    obs: Observed, previous: Sequence[Condition], now: str, observed_generation: int | None
) -> ModelServeStatus:
    live = [v for v in obs.pods if not v.terminating]
    ready = sum(1 for v in live if v.ready)
    phase, reason, message = _phase(obs, ready, live)
    before = {c.type: c for c in previous}
    conditions = [
        _condition("Ready", phase is Phase.READY, reason, message, before, now),
    ]
    unschedulable = next((v.unschedulable for v in live if v.unschedulable), None)
    if live:
        conditions.append(
            _condition(
                "Scheduled",
                unschedulable is None,
                "Unschedulable" if unschedulable else "Scheduled",
                unschedulable or "every pod has a node",
                before,
                now,
            )
        )
    if obs.deployment is not None:
        dep_status = obs.deployment.get("status") or {}
        dep_generation = (obs.deployment.get("metadata") or {}).get("generation", 0)
        rolled_out = (
            dep_status.get("observedGeneration", 0) >= dep_generation
            and dep_status.get("updatedReplicas", 0) >= obs.desired_replicas
            and dep_status.get("replicas", 0) <= obs.desired_replicas
        )
        conditions.append(
            _condition(
                "RolledOut",
                rolled_out,
                "Complete" if rolled_out else "RollingOut",
                "every pod runs the current spec"
                if rolled_out
                else (
                    f"{dep_status.get('updatedReplicas', 0)}/{obs.desired_replicas} pods updated"
                ),
                before,
                now,
            )
        )
    return ModelServeStatus(
        phase=phase,
        replicas=len(live),
        ready_replicas=ready if obs.desired_replicas > 0 else 0,
        endpoint=endpoint_path(obs.server_uuid),
        server_uuid=obs.server_uuid,
        selector=obs.selector,
        conditions=conditions,
        observed_generation=observed_generation,
    )


def status_changed(old: Mapping[str, Any] | None, new: ModelServeStatus) -> bool:
    """Whether writing `new` would change the stored status (ignores unknown old fields)."""
    return dict(old or {}) != new.to_k8s()
