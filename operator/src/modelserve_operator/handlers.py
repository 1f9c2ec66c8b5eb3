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
from pydantic import ValidationError

from inference_common.modelserve import GROUP, MODELSERVE_LABEL
from inference_common.modelserve_base import (
    MANAGED_BY_LABEL,
    MANAGED_BY_OPERATOR,
    validation_message,
)
from inference_common.server_identity import trusted_server_uuid
from modelserve_operator import metrics
from modelserve_operator.childmeta import owner_of
from modelserve_operator.childwriter import ChildNotOwnedError, ChildWriteError, write_children
from modelserve_operator.context import MEMO_KEY, OperatorContext, context_of
from modelserve_operator.errors import (
    RETRY_DELAY,
    is_permanent,
    namespace_terminating,
    raise_for,
)
from modelserve_operator.events import children_applied
from modelserve_operator.indices import StatusIndices, one
from modelserve_operator.kinds import MODELSERVE, WATCHED_CHILD_KINDS, Kind, kind_of
from modelserve_operator.manifests import children
from modelserve_operator.restore import restore_child
from modelserve_operator.settings import OperatorSettings
from modelserve_operator.status import Problem, pod_view
from modelserve_operator.statuswriter import modelserve_ref

MS = MODELSERVE.resource
MANAGED = {MANAGED_BY_LABEL: MANAGED_BY_OPERATOR}
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_OPERATOR}"
NOT_OWNED_DELAY = 60.0
"""How often a ModelServe whose child name is taken by a foreign object looks again."""

log = logging.getLogger("modelserve_operator")


# --- start-up: all kopf tuning in one place -------------------------------------------------


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: Any, **kwargs: Any) -> None:
    op = OperatorSettings()
    ctx = OperatorContext(op, StatusIndices.from_kwargs(kwargs))
    memo[MEMO_KEY] = ctx
    metrics.watch(ctx.status.phases, ctx.status.queue_depth)
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
    for resource in (("v1", "pods"), *(k.resource for k in WATCHED_CHILD_KINDS)):
        settings.watching.label_selectors[resource] = MANAGED_SELECTOR


@kopf.on.login()
def login(memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """kopf's own connection uses the same credentials as the official client."""
    conf = context_of(memo).api.configuration
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
    context_of(memo).close()


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


def _register_children_index(kind: Kind) -> None:
    @kopf.index(*kind.resource, labels=MANAGED, id=f"children-{kind.plural}")
    def index(
        namespace: str | None, name: str, body: kopf.Body, **_: Any
    ) -> dict[tuple[str, str, str], dict[str, Any]]:
        """What each child looks like now (without status and managedFields), so a reconcile
        skips children that already match the spec (e.g. every child after a restart)."""
        meta = {k: v for k, v in body.metadata.items() if k != "managedFields"}
        kept = {k: v for k, v in body.items() if k not in {"status", "metadata"}}
        return {(namespace or "", str(body.get("kind")), name): {**kept, "metadata": meta}}


for _kind in WATCHED_CHILD_KINDS:
    _register_children_index(_kind)


def _observed_child(kwargs: Mapping[str, Any], child: Mapping[str, Any]) -> Any:
    """The child as the watch index has it (None: not indexed, or not watched at all)."""
    meta = child["metadata"]
    kind = kind_of(child["apiVersion"], child["kind"])
    index = kwargs.get(f"children-{kind.plural}")
    if index is None:
        return None
    return one(index, (meta["namespace"], child["kind"], meta["name"]))


# --- reconciling -------------------------------------------------------------------------------


@kopf.on.resume(*MS)
@kopf.on.create(*MS)
@kopf.on.update(*MS)
@metrics.timed("reconcile")
def reconcile(
    name: str,
    namespace: str | None,
    meta: kopf.Meta,
    spec: kopf.Spec,
    body: kopf.Body,
    memo: Any,
    **kwargs: Any,
) -> None:
    ctx = context_of(memo)
    status = ctx.status
    namespace = namespace or ""
    obj = {"metadata": dict(meta), "spec": dict(spec), "status": dict(body.status)}
    generation = int(meta.get("generation", 0))
    extra = {
        "modelserve": name,
        "namespace": namespace,
        "server_uuid": trusted_server_uuid(meta, ctx.server_uuid_key),
        "generation": generation,
    }
    try:
        owner = owner_of(namespace, name, meta, spec, ctx.server_uuid_key)
    except ValidationError as exc:
        error = validation_message(exc, root="spec")
        status.remember(namespace, name, obj, spec_error=error)
        status.request(namespace, name)
        log.warning("invalid spec: %s", error, extra=extra)
        raise kopf.PermanentError(error) from None
    began = time.monotonic()
    objects = children(owner, ctx.manifest_config)
    try:
        ctx.renewals.step(owner, time.time())  # the fetch slots: what the pods need first
        skipped = write_children(
            ctx.api, ctx.apply_pool, owner, objects, lambda c: _observed_child(kwargs, c)
        )
    except ChildNotOwnedError as refused:
        metrics.CHILDREN_NOT_OWNED.inc()
        status.remember(namespace, name, obj, apply_error=refused.problem)
        status.request(namespace, name)
        log.warning("%s", refused.problem.message, extra=extra)
        delay = NOT_OWNED_DELAY if refused.problem.fatal else RETRY_DELAY
        raise kopf.TemporaryError(refused.problem.message, delay=delay) from None
    except ChildWriteError as failed:
        if namespace_terminating(failed.error):
            return  # the ModelServe goes with its namespace
        problem = Problem("ApplyFailed", str(failed), is_permanent(failed.error))
        status.remember(namespace, name, obj, apply_error=problem)
        status.request(namespace, name)
        raise_for(failed.error, failed.what)
    status.remember(namespace, name, obj)
    status.request(namespace, name)
    applied = children_applied(len(objects) - skipped, len(objects), generation)
    if applied is not None:
        status.record(modelserve_ref(namespace, name, str(meta.get("uid", ""))), [applied])
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
    context_of(memo).status.forget(namespace or "", name)


# --- children: restore when deleted or edited; status from what they do ------------------------


def _register_restore(kind: Kind) -> None:
    @kopf.on.event(*kind.resource, labels=MANAGED, id=f"restore-{kind.plural}")
    @metrics.timed("restore")
    def restore(type: str, body: kopf.Body, memo: Any, **_: Any) -> None:
        ctx = context_of(memo)
        restore_child(ctx, type, body, ctx.status.indices.modelserves)


for _kind in WATCHED_CHILD_KINDS:
    _register_restore(_kind)


def _refresh_owner_status(memo: Any, namespace: str | None, labels: Mapping[str, str]) -> None:
    owner_name = labels.get(MODELSERVE_LABEL)
    if owner_name:
        context_of(memo).status.request(namespace or "", owner_name)


@kopf.on.event("apps", "v1", "deployments", labels=MANAGED, id="status-from-deployment")
def deployment_changed(
    namespace: str | None,
    labels: Mapping[str, str],
    memo: Any,
    **_: Any,
) -> None:
    _refresh_owner_status(memo, namespace, labels)


@kopf.on.event("v1", "pods", labels=MANAGED, id="status-from-pod")
def pod_changed(
    namespace: str | None,
    labels: Mapping[str, str],
    memo: Any,
    **_: Any,
) -> None:
    _refresh_owner_status(memo, namespace, labels)
