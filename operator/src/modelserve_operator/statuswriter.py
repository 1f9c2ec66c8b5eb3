"""Status writing: recompute a ModelServe's status from what the operator knows and observes,
write it when it changed. Requests are coalesced per ModelServe and run in a small pool of
their own, so status never delays the creation of children."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import kopf
from kubernetes.client.exceptions import ApiException

from inference_common.modelserve import MODELSERVE_LABEL, Condition, server_uuid_of
from modelserve_operator import kubeapi
from modelserve_operator.status import (
    Observed,
    PodView,
    Problem,
    compute_status,
    latest_warning,
    pod_view_from_dict,
    status_changed,
    stuck_pods,
)

if TYPE_CHECKING:
    from modelserve_operator.runtime import Runtime

RETRY_DELAY = 5.0
INDICES = ("modelserves", "deployments", "pods")

log = logging.getLogger("modelserve_operator")


@dataclass
class Known:
    """The operator's latest knowledge of one ModelServe."""

    meta: dict[str, Any]
    spec: dict[str, Any]
    generation: int
    status: dict[str, Any]
    observed_generation: int | None = None
    spec_error: str | None = None
    apply_error: Problem | None = None

    @staticmethod
    def from_object(obj: Mapping[str, Any]) -> Known:
        meta = dict(obj.get("metadata") or {})
        status = dict(obj.get("status") or {})
        return Known(
            meta=meta,
            spec=dict(obj.get("spec") or {}),
            generation=int(meta.get("generation", 0)),
            status=status,
            observed_generation=status.get("observedGeneration"),
        )


def index_of(kwargs: Mapping[str, Any], name: str) -> kopf.Index[Any, Any]:
    """An index kopf passes as a keyword argument named after its function."""
    index = kwargs[name]
    assert isinstance(index, kopf.Index)
    return index


def one(index: kopf.Index[Any, Any], key: Any) -> Any:
    store = index.get(key)
    if not store:
        return None
    for item in store:
        return item
    return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _gpu_free(rt: Runtime) -> dict[str, int] | None:
    """Free GPUs per node for an Unschedulable message; None when they cannot be read."""
    try:
        return rt.gpu_free.get()
    except ApiException as exc:
        log.warning("cannot read GPU capacity: %s", kubeapi.error_message(exc))
        return None


MAX_EVENT_LOOKUPS = 3


def _requeue(rt: Runtime, key: tuple[str, str], delay: float) -> None:
    """Looks at a ModelServe again after `delay` (a controller's requeue-after)."""
    rt.requeuer.schedule(key, delay)


def _pod_warnings(
    rt: Runtime, namespace: str, stuck: Sequence[PodView]
) -> dict[str, Problem] | None:
    """Warning events of a few stuck pods (cached briefly); None when there is none to read."""
    found: dict[str, Problem] = {}
    for view in stuck[:MAX_EVENT_LOOKUPS]:
        try:
            events = rt.pod_events.get(namespace, view.name)
        except ApiException as exc:
            log.warning("cannot read events: %s", kubeapi.error_message(exc))
            return None
        problem = latest_warning(events)
        if problem is not None:
            found[view.name] = problem
    return found or None


def write_status(
    rt: Runtime,
    namespace: str,
    name: str,
    deployments_idx: kopf.Index[Any, Any],
    pods_idx: kopf.Index[Any, Any],
    from_index: Mapping[str, Any] | None = None,
) -> None:
    """Recomputes status from what the operator knows and writes it when it changed.

    Runs under a lock per ModelServe, so the last writer always saw the newest observations.
    The operator's memory (`Known`: the last reconciled spec, its outcome and the last status
    written) wins over the watch index, which may still hold an older version of the object.
    """
    with rt.lock(namespace, name):
        known = rt.known.get((namespace, name))
        if from_index is not None:
            index_meta = from_index.get("metadata") or {}
            if (
                known is None
                or index_meta.get("uid") != known.meta.get("uid")  # deleted and re-created
                or int(index_meta.get("generation", 0)) > known.generation
            ):
                known = Known.from_object(from_index)
                rt.known[(namespace, name)] = known
        if known is None:
            return
        views = [pod_view_from_dict(p) for p in pods_idx.get((namespace, name)) or []]
        gpu_request = int((known.spec.get("gpu") or {}).get("count", 0))
        gpu_free = None
        if gpu_request > 0 and any(v.unschedulable and not v.terminating for v in views):
            gpu_free = _gpu_free(rt)
        stuck, recheck = stuck_pods(views, time.time())
        warnings = _pod_warnings(rt, namespace, stuck)
        if recheck is not None:
            _requeue(rt, (namespace, name), recheck + 1)
        obs = Observed(
            generation=known.generation,
            desired_replicas=int(known.spec.get("replicas", 1)),
            server_uuid=server_uuid_of(known.meta),
            selector=f"{MODELSERVE_LABEL}={name}",
            deployment=one(deployments_idx, (namespace, name)),
            pods=views,
            spec_error=known.spec_error,
            apply_error=known.apply_error,
            gpu_request=gpu_request,
            gpu_free=gpu_free,
            pod_warnings=warnings,
        )
        old = known.status
        previous = [Condition.model_validate(c) for c in old.get("conditions") or []]
        new = compute_status(obs, previous, _now(), known.observed_generation)
        if not status_changed(old, new):
            return
        try:
            kubeapi.patch_status(rt.api, namespace, name, new.to_k8s())
        except ApiException as exc:
            if exc.status == 404:
                return  # the ModelServe is gone
            raise
        known.status = new.to_k8s()
    if old.get("phase") == new.phase.value:
        return
    log.info(
        "phase %s → %s",
        old.get("phase") or "-",
        new.phase.value,
        extra={
            "modelserve": name,
            "namespace": namespace,
            "server_uuid": obs.server_uuid,
            "ready_replicas": new.ready_replicas,
            "reason": new.conditions[0].reason if new.conditions else None,
        },
    )


def request_status(rt: Runtime, namespace: str, name: str, kwargs: Mapping[str, Any]) -> None:
    """Queues a status refresh for one ModelServe (coalesced; runs in the status pool)."""
    if not rt.indices:
        rt.indices = {n: index_of(kwargs, n) for n in ("modelserves", "deployments", "pods")}
    rt.status_queue.submit((namespace, name))


def status_job(rt: Runtime, key: tuple[str, str]) -> None:
    namespace, name = key
    ms = one(rt.indices["modelserves"], key)
    if ms is None or (ms.get("metadata") or {}).get("deletionTimestamp"):
        if key not in rt.known:
            return
        ms = None
    try:
        write_status(
            rt, namespace, name, rt.indices["deployments"], rt.indices["pods"], from_index=ms
        )
    except ApiException as exc:
        # requeue like a controller would; the retry computes from the newest state again
        log.warning(
            "status write failed, retrying in %ss: %s",
            RETRY_DELAY,
            kubeapi.error_message(exc),
            extra={"modelserve": name, "namespace": namespace},
        )
        _requeue(rt, key, RETRY_DELAY)


def remember(
    rt: Runtime,
    namespace: str,
    name: str,
    obj: Mapping[str, Any],
    spec_error: str | None = None,
    apply_error: Problem | None = None,
) -> None:
    """Records the spec just reconciled and its outcome (the status writers' source)."""
    with rt.lock(namespace, name):
        fresh = Known.from_object(obj)
        before = rt.known.get((namespace, name))
        if before is not None:
            fresh.status = before.status
        fresh.observed_generation = fresh.generation
        fresh.spec_error = spec_error
        fresh.apply_error = apply_error
        rt.known[(namespace, name)] = fresh
