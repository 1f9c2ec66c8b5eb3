"""kopf handlers: reconcile ModelServes into their children, restore drifted or deleted
children, and write status from the observed Deployment and pods.

Handlers are synchronous (kopf runs them in its thread pool), so the official blocking
client never runs on the event loop. Manifests and status come from pure functions
(`manifests`, `status`); this module only reads kopf's in-memory indices and calls the API.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from inference_common.kube import api_client
from inference_common.modelserve import (
    GROUP,
    MODELSERVE_LABEL,
    PLURAL,
    VERSION,
    Condition,
    ModelServeSpec,
    server_uuid_of,
)
from modelserve_operator import kubeapi
from modelserve_operator.capacity import GpuFreeCache
from modelserve_operator.coalesce import Coalescer
from modelserve_operator.manifests import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ManifestConfig,
    Owner,
    S3Credentials,
    children,
    is_subset,
)
from modelserve_operator.settings import OperatorSettings
from modelserve_operator.status import (
    Observed,
    Problem,
    compute_status,
    pod_view,
    pod_view_from_dict,
    status_changed,
)

MS = (GROUP, VERSION, PLURAL)
MANAGED = {MANAGED_BY_LABEL: MANAGED_BY}
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
CHILD_RESOURCES = (
    ("apps", "v1", "deployments"),
    ("v1", "services"),
    ("v1", "secrets"),
    ("traefik.io", "v1alpha1", "middlewares"),
    ("traefik.io", "v1alpha1", "ingressroutes"),
)
RETRY_DELAY = 5.0
STATUS_WORKERS = 4
MISSING_CRD_DELAY = 30.0

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


class Runtime:
    """What handlers share, kept in kopf's memo: settings, client, per-object locks."""

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings
        configuration = api_client(settings.kubeconfig).configuration
        configuration.connection_pool_maxsize = 2 * settings.max_workers + STATUS_WORKERS
        self.api = ApiClient(configuration)
        self.apply_pool = ThreadPoolExecutor(settings.max_workers, thread_name_prefix="apply")
        self.status_pool = ThreadPoolExecutor(STATUS_WORKERS, thread_name_prefix="status")
        self.status_queue: Coalescer[tuple[str, str]] = Coalescer(
            self.status_pool, lambda key: _status_job(self, key)
        )
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


# --- start-up: all kopf tuning in one place -------------------------------------------------


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    op = OperatorSettings()
    memo["runtime"] = Runtime(op)
    # progress and the last-handled spec live in annotations: .status is typed and pruned
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{GROUP}/operator"
    settings.posting.level = logging.WARNING  # k8s Events only for warnings and errors
    settings.execution.max_workers = op.max_workers
    # namespace globs ("!opt-*") need kopf to watch namespaces; exact names or cluster-wide do not
    patterns = [ns for ns in memo.get("namespaces") or [] if any(c in ns for c in "*?!,")]
    settings.scanning.disabled = not patterns
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 10
    settings.batching.worker_limit = None
    settings.queueing.error_delays = (1, 2, 5, 10, 30, 60)
    # server-side filtering: the operator only ever sees its own children
    for resource in (("v1", "pods"), *((r[0], r[-1]) for r in CHILD_RESOURCES)):
        settings.watching.label_selectors[resource] = MANAGED_SELECTOR


@kopf.on.login()
def login(memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """kopf's own connection uses the same credentials as the official client."""
    conf = runtime_of(memo).api.configuration
    token = (conf.api_key or {}).get("authorization") or (conf.api_key or {}).get("BearerToken")
    scheme = None
    if token and " " in token:
        scheme, token = token.split(" ", 1)
    return kopf.ConnectionInfo(
        server=conf.host,
        ca_path=conf.ssl_ca_cert,
        insecure=not conf.verify_ssl,
        certificate_path=conf.cert_file,
        private_key_path=conf.key_file,
        scheme=scheme or ("Bearer" if token else None),
        token=token,
    )


@kopf.on.cleanup()
def close(memo: Any, **_: Any) -> None:
    rt = runtime_of(memo)
    rt.apply_pool.shutdown(wait=True)
    rt.status_pool.shutdown(wait=True)
    rt.api.close()


# --- indices (in-memory views kopf keeps current from its watches) ----------------------------


@kopf.index(*MS)
def modelserves(
    namespace: str | None, name: str, body: kopf.Body, **_: Any
) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (namespace or "", name): {
            "metadata": dict(body.metadata),
            "spec": dict(body.spec),
            "status": dict(body.status),
        }
    }


@kopf.index("apps", "v1", "deployments", labels=MANAGED)
def deployments(
    namespace: str | None, labels: Mapping[str, str], body: kopf.Body, **_: Any
) -> dict[tuple[str, str], dict[str, Any]]:
    owner = labels.get(MODELSERVE_LABEL, "")
    return {
        (namespace or "", owner): {"metadata": dict(body.metadata), "status": dict(body.status)}
    }


@kopf.index("v1", "pods", labels=MANAGED)
def pods(
    namespace: str | None, labels: Mapping[str, str], body: kopf.Body, **_: Any
) -> dict[tuple[str, str], dict[str, Any]]:
    owner = labels.get(MODELSERVE_LABEL, "")
    return {(namespace or "", owner): pod_view(body).to_dict()}


def _index(kwargs: Mapping[str, Any], name: str) -> kopf.Index[Any, Any]:
    """An index kopf passes as a keyword argument named after its function."""
    index = kwargs[name]
    assert isinstance(index, kopf.Index)
    return index


def _one(index: kopf.Index[Any, Any], key: tuple[str, str]) -> Any:
    store = index.get(key)
    if not store:
        return None
    for item in store:
        return item
    return None


# --- reconciling -------------------------------------------------------------------------------


def _owner(namespace: str, name: str, meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Owner:
    return Owner(
        name=name,
        namespace=namespace,
        uid=str(meta["uid"]),
        server_uuid=server_uuid_of(meta),
        spec=ModelServeSpec.model_validate(dict(spec)),
    )


def _spec_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"spec.{where}: {first.get('msg')}" if where else f"spec: {first.get('msg')}"


def _is_permanent(exc: ApiException) -> bool:
    return exc.status in {400, 403, 422}


def _raise_for(exc: ApiException, what: str) -> None:
    message = f"{what}: {kubeapi.error_message(exc)}"
    if exc.status == 404:
        # the kind is missing (e.g. Traefik CRDs not installed) or the namespace is going away
        raise kopf.TemporaryError(message, delay=MISSING_CRD_DELAY) from exc
    if _is_permanent(exc):
        raise kopf.PermanentError(message) from exc
    raise kopf.TemporaryError(message, delay=RETRY_DELAY) from exc


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _gpu_free(rt: Runtime) -> dict[str, int] | None:
    """Free GPUs per node for an Unschedulable message; None when they cannot be read."""
    try:
        return rt.gpu_free.get()
    except ApiException as exc:
        log.warning("cannot read GPU capacity: %s", kubeapi.error_message(exc))
        return None


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
        obs = Observed(
            generation=known.generation,
            desired_replicas=int(known.spec.get("replicas", 1)),
            server_uuid=server_uuid_of(known.meta),
            selector=f"{MODELSERVE_LABEL}={name}",
            deployment=_one(deployments_idx, (namespace, name)),
            pods=views,
            spec_error=known.spec_error,
            apply_error=known.apply_error,
            gpu_request=gpu_request,
            gpu_free=gpu_free,
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
        rt.indices = {n: _index(kwargs, n) for n in ("modelserves", "deployments", "pods")}
    rt.status_queue.submit((namespace, name))


def _status_job(rt: Runtime, key: tuple[str, str]) -> None:
    namespace, name = key
    ms = _one(rt.indices["modelserves"], key)
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
        retry = threading.Timer(RETRY_DELAY, rt.status_queue.submit, args=(key,))
        retry.daemon = True
        retry.start()


def _remember(
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


@kopf.on.resume(*MS)
@kopf.on.create(*MS)
@kopf.on.update(*MS)
def reconcile(
    name: str,
    namespace: str | None,
    meta: kopf.Meta,
    spec: kopf.Spec,
    body: kopf.Body,
    memo: Any,
    **kwargs: Any,
) -> None:
    rt = runtime_of(memo)
    namespace = namespace or ""
    obj = {"metadata": dict(meta), "spec": dict(spec), "status": dict(body.status)}
    generation = int(meta.get("generation", 0))
    extra = {
        "modelserve": name,
        "namespace": namespace,
        "server_uuid": server_uuid_of(meta),
        "generation": generation,
    }
    try:
        owner = _owner(namespace, name, meta, spec)
    except ValidationError as exc:
        error = _spec_error(exc)
        _remember(rt, namespace, name, obj, spec_error=error)
        request_status(rt, namespace, name, kwargs)
        log.warning("invalid spec: %s", error, extra=extra)
        raise kopf.PermanentError(error) from None
    began = time.monotonic()
    objects = children(owner, rt.manifest_config, rt.credentials)
    # what the pods need first (in parallel), then the Deployment that makes the pods
    waves = [[c for c in objects if c["kind"] != "Deployment"]]
    waves.append([c for c in objects if c["kind"] == "Deployment"])
    for wave in waves:
        futures = [(c, rt.apply_pool.submit(kubeapi.apply, rt.api, c)) for c in wave]
        for child, future in futures:
            what = f"{child['kind']} {child['metadata']['name']}"
            try:
                future.result()
            except ApiException as exc:
                problem = Problem(
                    "ApplyFailed", f"{what}: {kubeapi.error_message(exc)}", _is_permanent(exc)
                )
                _remember(rt, namespace, name, obj, apply_error=problem)
                request_status(rt, namespace, name, kwargs)
                _raise_for(exc, what)
    _remember(rt, namespace, name, obj)
    request_status(rt, namespace, name, kwargs)
    log.info(
        "reconciled generation %s",
        generation,
        extra={**extra, "apply_seconds": round(time.monotonic() - began, 3)},
    )


@kopf.on.delete(*MS, optional=True)
def forget(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """Children go by garbage collection (ownerReferences); only local state is dropped."""
    runtime_of(memo).forget(namespace or "", name)


# --- children: restore when deleted or edited; status from what they do ------------------------


def _owned_by(body: Mapping[str, Any], uid: str) -> bool:
    refs = (body.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("uid") == uid and ref.get("controller") for ref in refs)


def _desired_child(
    rt: Runtime, namespace: str, ms: Mapping[str, Any], kind: str, child_name: str
) -> dict[str, Any] | None:
    meta = ms.get("metadata") or {}
    try:
        owner = _owner(namespace, str(meta.get("name")), meta, ms.get("spec") or {})
    except ValidationError:
        return None
    for child in children(owner, rt.manifest_config, rt.credentials):
        if child["kind"] == kind and child["metadata"]["name"] == child_name:
            return child
    return None


def restore_child(
    rt: Runtime,
    event_type: str,
    body: Mapping[str, Any],
    modelserves_idx: kopf.Index[Any, Any],
) -> None:
    meta = body.get("metadata") or {}
    namespace = str(meta.get("namespace"))
    owner_name = (meta.get("labels") or {}).get(MODELSERVE_LABEL)
    if not owner_name:
        return
    ms = _one(modelserves_idx, (namespace, owner_name))
    if ms is None or (ms.get("metadata") or {}).get("deletionTimestamp"):
        return
    uid = str((ms.get("metadata") or {}).get("uid"))
    deleted = event_type == "DELETED"
    if not deleted and not _owned_by(body, uid):
        return  # left over from an earlier ModelServe of the same name: GC removes it
    desired = _desired_child(rt, namespace, ms, str(body.get("kind")), str(meta.get("name")))
    if desired is None:
        return
    if not deleted and is_subset(desired, body):
        return
    if deleted and kubeapi.get_modelserve(rt.api, namespace, owner_name) is None:
        return  # the owner is being deleted: this is garbage collection at work
    try:
        kubeapi.apply(rt.api, desired)
    except ApiException as exc:
        _raise_for(exc, f"restore {desired['kind']} {desired['metadata']['name']}")
    log.info(
        "restored %s %s (%s)",
        desired["kind"],
        desired["metadata"]["name"],
        "deleted" if deleted else "edited",
        extra={
            "modelserve": owner_name,
            "namespace": namespace,
            "server_uuid": server_uuid_of(ms["metadata"]),
        },
    )


def _register_restore(resource: tuple[str, ...]) -> None:
    @kopf.on.event(*resource, labels=MANAGED, id=f"restore-{resource[-1]}")
    def restore(
        type: str,
        body: kopf.Body,
        memo: Any,
        **kwargs: Any,
    ) -> None:
        restore_child(runtime_of(memo), type, body, _index(kwargs, "modelserves"))


for _resource in CHILD_RESOURCES:
    _register_restore(_resource)


def _refresh_owner_status(
    rt: Runtime,
    namespace: str,
    labels: Mapping[str, str],
    kwargs: Mapping[str, Any],
) -> None:
    owner_name = labels.get(MODELSERVE_LABEL)
    if owner_name:
        request_status(rt, namespace, owner_name, kwargs)


@kopf.on.event("apps", "v1", "deployments", labels=MANAGED, id="status-from-deployment")
def deployment_changed(
    namespace: str | None,
    labels: Mapping[str, str],
    memo: Any,
    **kwargs: Any,
) -> None:
    _refresh_owner_status(runtime_of(memo), namespace or "", labels, kwargs)


@kopf.on.event("v1", "pods", labels=MANAGED, id="status-from-pod")
def pod_changed(
    namespace: str | None,
    labels: Mapping[str, str],
    memo: Any,
    **kwargs: Any,
) -> None:
    _refresh_owner_status(runtime_of(memo), namespace or "", labels, kwargs)
