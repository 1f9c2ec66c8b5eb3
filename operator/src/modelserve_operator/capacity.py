"""Free GPUs per node, to tell a user why a replica does not fit ("free nvidia.com/gpu per
node: kwok-0=3, kwok-1=4 (5 requested)"). The arithmetic is `inference_common.gpus.free_gpus`;
the lookup is a small cached read of nodes and pods, done only while some replica is
unschedulable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes.client import ApiClient

from inference_common.gpus import free_gpus
from modelserve_operator import kubeapi

GPU_NODE_SELECTOR = "nvidia.com/gpu.present=true"
CACHE_SECONDS = 10.0


class GpuFreeCache:
    """`free_gpus` of the cluster, read at most every CACHE_SECONDS."""

    def __init__(self, api: ApiClient, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.clock = clock
        self._lock = threading.Lock()
        self._value: dict[str, int] | None = None
        self._at = 0.0

    def get(self) -> dict[str, int]:
        with self._lock:
            if self._value is not None and self.clock() - self._at < CACHE_SECONDS:
                return self._value
            nodes = kubeapi.list_objects(self.api, "/api/v1/nodes", GPU_NODE_SELECTOR)
            pods = kubeapi.list_objects(self.api, "/api/v1/pods", field_selector="spec.nodeName!=")
            self._value = free_gpus(nodes, pods)
            self._at = self.clock()
            return self._value


class PodEventsCache:
    """Events of one pod, read at most every CACHE_SECONDS (only for pods that look stuck)."""

    def __init__(self, api: ApiClient, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}

    def get(self, namespace: str, pod: str) -> list[dict[str, Any]]:
        key = (namespace, pod)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and self.clock() - hit[0] < CACHE_SECONDS:
                return hit[1]
        events = kubeapi.list_objects(
            self.api,
            f"/api/v1/namespaces/{namespace}/events",
            field_selector=f"involvedObject.kind=Pod,involvedObject.name={pod}",
        )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (self.clock(), events)
        return events
