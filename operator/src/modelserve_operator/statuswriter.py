"""Status writing: recompute a ModelServe's status from what the operator knows and observes,
write it when it changed.

`StatusWriter` owns all of it: what the operator knows per ModelServe, a lock per ModelServe,
the coalescing queue and its own small pool (so status never delays the creation of children),
the requeue-after timer, and the indices it reads (handed to it at start-up)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from inference_common.kube_events import EventRecorder
from inference_common.modelserve import MODELSERVE_LABEL, Condition
from inference_common.server_identity import trusted_server_uuid
from modelserve_operator import kubeapi, metrics
from modelserve_operator.capacity import GpuFreeCache, PodEventsCache
from modelserve_operator.coalesce import Coalescer, Requeuer
from modelserve_operator.events import EventSpec, status_events
from modelserve_operator.indices import StatusIndices, one
from modelserve_operator.kinds import MODELSERVE
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

STATUS_WORKERS = 4
RETRY_DELAY = 5.0
MAX_EVENT_LOOKUPS = 3

Key = tuple[str, str]

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


def modelserve_ref(namespace: str, name: str, uid: str) -> dict[str, Any]:
    """What an Event on a ModelServe names as its involved object."""
    return {
        "apiVersion": MODELSERVE.api_version,
        "kind": MODELSERVE.kind,
        "metadata": {"namespace": namespace, "name": name, "uid": uid},
    }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StatusWriter:
    """Writes ModelServe status: `request` a refresh (coalesced per ModelServe, run in the
    status pool), `remember` what a reconcile did, `forget` a deleted ModelServe."""

    def __init__(
        self,
        api: ApiClient,
        indices: StatusIndices,
        server_uuid_key: str,
        workers: int = STATUS_WORKERS,
        events: EventRecorder | None = None,
    ) -> None:
        self.api = api
        self.events = events or EventRecorder(api, component="modelserve-operator")
        self.indices = indices
        self.server_uuid_key = server_uuid_key
        self.gpu_free = GpuFreeCache(api)
        self.pod_events = PodEventsCache(api)
        self.known: dict[Key, Known] = {}
        self._locks: dict[Key, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="status")
        self._queue: Coalescer[Key] = Coalescer(self._pool, self._job)
        self._requeuer: Requeuer[Key] = Requeuer(self._queue.submit)

    def request(self, namespace: str, name: str) -> None:
        """Queues a status refresh for one ModelServe."""
        self._queue.submit((namespace, name))

    def remember(
        self,
        namespace: str,
        name: str,
        obj: Mapping[str, Any],
        spec_error: str | None = None,
        apply_error: Problem | None = None,
    ) -> None:
        """Records the spec just reconciled and its outcome (what status is computed from)."""
        with self._lock(namespace, name):
            fresh = Known.from_object(obj)
            before = self.known.get((namespace, name))
            if before is not None:
                fresh.status = before.status
            fresh.observed_generation = fresh.generation
            fresh.spec_error = spec_error
            fresh.apply_error = apply_error
            self.known[(namespace, name)] = fresh

    def forget(self, namespace: str, name: str) -> None:
        with self._locks_guard:
            self._locks.pop((namespace, name), None)
            self.known.pop((namespace, name), None)

    def queue_depth(self) -> int:
        """Refreshes queued, and those waiting to be retried."""
        return self._queue.depth() + self._requeuer.pending()

    def phases(self) -> list[str | None]:
        """The phase last written for each ModelServe the operator knows."""
        return [known.status.get("phase") for known in list(self.known.values())]

    def close(self) -> None:
        self._requeuer.stop()
        self._pool.shutdown(wait=True)

    def _lock(self, namespace: str, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((namespace, name), threading.Lock())

    @metrics.timed("status")
    def _job(self, key: Key) -> None:
        namespace, name = key
        ms = one(self.indices.modelserves, key)
        if ms is None or (ms.get("metadata") or {}).get("deletionTimestamp"):
            if key not in self.known:
                return
            ms = None
        try:
            self.write(namespace, name, from_index=ms)
        except ApiException as exc:
            # requeue like a controller would; the retry computes from the newest state again
            log.warning(
                "status write failed, retrying in %ss: %s",
                RETRY_DELAY,
                kubeapi.error_message(exc),
                extra={"modelserve": name, "namespace": namespace},
            )
            self._requeuer.schedule(key, RETRY_DELAY)

    def write(self, namespace: str, name: str, from_index: Mapping[str, Any] | None = None) -> None:
        """Recomputes status from what the operator knows and writes it when it changed.

        Runs under the ModelServe's lock, so the last writer always saw the newest
        observations. The operator's memory (`Known`: the last reconciled spec, its outcome
        and the last status written) wins over the watch index, which may still hold an older
        version of the object.
        """
        with self._lock(namespace, name):
            known = self.known.get((namespace, name))
            if from_index is not None:
                index_meta = from_index.get("metadata") or {}
                if (
                    known is None
                    or index_meta.get("uid") != known.meta.get("uid")  # deleted and re-created
                    or int(index_meta.get("generation", 0)) > known.generation
                ):
                    known = Known.from_object(from_index)
                    self.known[(namespace, name)] = known
            if known is None:
                return
            obs = self._observe(namespace, name, known)
            old = known.status
            previous = [Condition.model_validate(c) for c in old.get("conditions") or []]
            new = compute_status(obs, previous, _now(), known.observed_generation)
            if not status_changed(old, new):
                return
            try:
                kubeapi.patch_status(self.api, namespace, name, new.to_k8s())
            except ApiException as exc:
                if exc.status == 404:
                    metrics.STATUS_WRITES.labels(metrics.GONE).inc()
                    return  # the ModelServe is gone
                metrics.STATUS_WRITES.labels(metrics.ERROR).inc()
                raise
            metrics.STATUS_WRITES.labels(metrics.SUCCESS).inc()
            known.status = new.to_k8s()
            ref = modelserve_ref(namespace, name, str(known.meta.get("uid", "")))
        self.record(ref, status_events(old, known.status))
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

    def record(self, ref: Mapping[str, Any], events: Sequence[EventSpec]) -> None:
        for event in events:
            self.events.record(ref, event.type, event.reason, event.message)

    def _observe(self, namespace: str, name: str, known: Known) -> Observed:
        views = [pod_view_from_dict(p) for p in self.indices.pods.get((namespace, name)) or []]
        gpu_request = int((known.spec.get("gpu") or {}).get("count", 0))
        gpu_free = None
        if gpu_request > 0 and any(v.unschedulable and not v.terminating for v in views):
            gpu_free = self._gpu_free()
        stuck, recheck = stuck_pods(views, time.time())
        warnings = self._pod_warnings(namespace, stuck)
        if recheck is not None:
            self._requeuer.schedule((namespace, name), recheck + 1)
        return Observed(
            generation=known.generation,
            desired_replicas=int(known.spec.get("replicas", 1)),
            server_uuid=trusted_server_uuid(known.meta, self.server_uuid_key),
            selector=f"{MODELSERVE_LABEL}={name}",
            deployment=one(self.indices.deployments, (namespace, name)),
            pods=views,
            spec_error=known.spec_error,
            apply_error=known.apply_error,
            gpu_request=gpu_request,
            gpu_free=gpu_free,
            pod_warnings=warnings,
        )

    def _gpu_free(self) -> dict[str, int] | None:
        """Free GPUs per node for an Unschedulable message; None when they cannot be read."""
        try:
            return self.gpu_free.get()
        except ApiException as exc:
            log.warning("cannot read GPU capacity: %s", kubeapi.error_message(exc))
            return None

    def _pod_warnings(self, namespace: str, stuck: Sequence[PodView]) -> dict[str, Problem] | None:
        """Warning events of a few stuck pods (cached briefly); None when there is none."""
        found: dict[str, Problem] = {}
        for view in stuck[:MAX_EVENT_LOOKUPS]:
            try:
                events = self.pod_events.get(namespace, view.name)
            except ApiException as exc:
                log.warning("cannot read events: %s", kubeapi.error_message(exc))
                return None
            problem = latest_warning(events)
            if problem is not None:
                found[view.name] = problem
        return found or None
