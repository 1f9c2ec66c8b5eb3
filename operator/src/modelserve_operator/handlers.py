"""kopf handlers: reconcile ModelServes into their children, restore drifted or deleted
children, and keep status current from the observed Deployment and pods.

Handlers are synchronous (kopf runs them in its thread pool), so the official blocking
client never runs on the event loop. Manifests and status come from pure functions
(`manifests`, `status`); the handlers wire kopf's events and indices to them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from inference_common.modelserve import GROUP, MODELSERVE_LABEL, PLURAL, VERSION, server_uuid_of
from inference_common.modelserve_base import (
    MANAGED_BY_LABEL,
    MANAGED_BY_OPERATOR,
    validation_message,
)
from modelserve_operator import kubeapi
from modelserve_operator.errors import is_permanent, namespace_terminating, raise_for
from modelserve_operator.manifests import children, is_subset, owner_of
from modelserve_operator.restore import restore_child
from modelserve_operator.runtime import Runtime, runtime_of
from modelserve_operator.settings import OperatorSettings
from modelserve_operator.status import Problem, pod_view
from modelserve_operator.statuswriter import index_of, one, remember, request_status

MS = (GROUP, VERSION, PLURAL)
MANAGED = {MANAGED_BY_LABEL: MANAGED_BY_OPERATOR}
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_OPERATOR}"
CHILD_RESOURCES = (
    ("apps", "v1", "deployments"),
    ("v1", "services"),
    ("v1", "secrets"),
    ("traefik.io", "v1alpha1", "middlewares"),
    ("traefik.io", "v1alpha1", "ingressroutes"),
)

log = logging.getLogger("modelserve_operator")


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
    rt.requeuer.stop()
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


def _register_children_index(resource: tuple[str, ...]) -> None:
    @kopf.index(*resource, labels=MANAGED, id=f"children-{resource[-1]}")
    def index(
        namespace: str | None, name: str, body: kopf.Body, **_: Any
    ) -> dict[tuple[str, str, str], dict[str, Any]]:
        """What each child looks like now (without status and managedFields), so a reconcile
        skips children that already match the spec (e.g. every child after a restart)."""
        meta = {k: v for k, v in body.metadata.items() if k != "managedFields"}
        kept = {k: v for k, v in body.items() if k not in {"status", "metadata"}}
        return {(namespace or "", str(body.get("kind")), name): {**kept, "metadata": meta}}


for _resource in CHILD_RESOURCES:
    _register_children_index(_resource)


def _observed_child(kwargs: Mapping[str, Any], child: Mapping[str, Any]) -> Any:
    meta = child["metadata"]
    resource = next(r for r in CHILD_RESOURCES if _kind_of(r) == child["kind"])
    index = kwargs.get(f"children-{resource[-1]}")
    if index is None:
        return None
    return one(index, (meta["namespace"], child["kind"], meta["name"]))


def _kind_of(resource: tuple[str, ...]) -> str:
    return {
        "deployments": "Deployment",
        "services": "Service",
        "secrets": "Secret",
        "middlewares": "Middleware",
        "ingressroutes": "IngressRoute",
    }[resource[-1]]


# --- reconciling -------------------------------------------------------------------------------


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
        owner = owner_of(namespace, name, meta, spec)
    except ValidationError as exc:
        error = validation_message(exc, root="spec")
        remember(rt, namespace, name, obj, spec_error=error)
        request_status(rt, namespace, name, kwargs)
        log.warning("invalid spec: %s", error, extra=extra)
        raise kopf.PermanentError(error) from None
    began = time.monotonic()
    objects = children(owner, rt.manifest_config, rt.credentials)
    # what the pods need first (in parallel), then the Deployment that makes the pods
    waves = [[c for c in objects if c["kind"] != "Deployment"]]
    waves.append([c for c in objects if c["kind"] == "Deployment"])
    skipped = 0
    for wave in waves:
        todo = [c for c in wave if not is_subset(c, _observed_child(kwargs, c))]
        skipped += len(wave) - len(todo)
        futures = [(c, rt.apply_pool.submit(kubeapi.apply, rt.api, c)) for c in todo]
        for child, future in futures:
            what = f"{child['kind']} {child['metadata']['name']}"
            try:
                future.result()
            except ApiException as exc:
                if namespace_terminating(exc):
                    return  # the ModelServe goes with its namespace
                problem = Problem(
                    "ApplyFailed", f"{what}: {kubeapi.error_message(exc)}", is_permanent(exc)
                )
                remember(rt, namespace, name, obj, apply_error=problem)
                request_status(rt, namespace, name, kwargs)
                raise_for(exc, what)
    remember(rt, namespace, name, obj)
    request_status(rt, namespace, name, kwargs)
    log.info(
        "reconciled generation %s",
        generation,
        extra={
            **extra,
            "apply_seconds": round(time.monotonic() - began, 3),
            "unchanged_children": skipped,
        },
    )


@kopf.on.delete(*MS, optional=True)
def forget(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """Children go by garbage collection (ownerReferences); only local state is dropped."""
    runtime_of(memo).forget(namespace or "", name)


# --- children: restore when deleted or edited; status from what they do ------------------------


def _register_restore(resource: tuple[str, ...]) -> None:
    @kopf.on.event(*resource, labels=MANAGED, id=f"restore-{resource[-1]}")
    def restore(
        type: str,
        body: kopf.Body,
        memo: Any,
        **kwargs: Any,
    ) -> None:
        restore_child(runtime_of(memo), type, body, index_of(kwargs, "modelserves"))


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
