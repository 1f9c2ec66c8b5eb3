"""What the handlers share (kept in kopf's memo): settings, the API client and its pools,
the status queue, what the operator knows per ModelServe, and per-ModelServe locks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
from kubernetes.client import ApiClient

from inference_common.kube import api_client
from modelserve_operator.capacity import GpuFreeCache, PodEventsCache
from modelserve_operator.coalesce import Coalescer, Requeuer
from modelserve_operator.manifests import ManifestConfig, S3Credentials
from modelserve_operator.settings import OperatorSettings
from modelserve_operator.statuswriter import Known, status_job

STATUS_WORKERS = 4


class Runtime:
    """What handlers share, kept in kopf's memo: settings, client, per-object locks."""

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings
        probe = api_client(settings.kubeconfig)
        configuration = probe.configuration
        probe.close()
        configuration.connection_pool_maxsize = 2 * settings.max_workers + STATUS_WORKERS
        self.api = ApiClient(configuration)
        self.apply_pool = ThreadPoolExecutor(settings.max_workers, thread_name_prefix="apply")
        self.status_pool = ThreadPoolExecutor(STATUS_WORKERS, thread_name_prefix="status")
        self.status_queue: Coalescer[tuple[str, str]] = Coalescer(
            self.status_pool, lambda key: status_job(self, key)
        )
        self.requeuer: Requeuer[tuple[str, str]] = Requeuer(self.status_queue.submit)
        self.indices: dict[str, kopf.Index[Any, Any]] = {}
        self.manifest_config = ManifestConfig(
            llama_image=settings.llama_image,
            llama_cuda_image=settings.llama_cuda_image,
            fetch_image=settings.model_fetch_image,
            entry_point=settings.traefik_entry_point,
        )
        self.credentials = S3Credentials(
            endpoint=settings.fetch_s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
        )
        self.gpu_free = GpuFreeCache(self.api)
        self.pod_events = PodEventsCache(self.api)
        self.known: dict[tuple[str, str], Known] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def lock(self, namespace: str, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((namespace, name), threading.Lock())

    def forget(self, namespace: str, name: str) -> None:
        with self._locks_guard:
            self._locks.pop((namespace, name), None)
            self.known.pop((namespace, name), None)


def runtime_of(memo: Any) -> Runtime:
    rt = memo["runtime"]
    assert isinstance(rt, Runtime)
    return rt
