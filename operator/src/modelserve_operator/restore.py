"""Children stay as the spec says: a deleted child is re-created and an edited one re-applied
(server-side apply), unless its owner is being deleted."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from inference_common.modelserve import MODELSERVE_LABEL
from inference_common.server_identity import trusted_server_uuid
from modelserve_operator import kubeapi
from modelserve_operator.childmeta import owner_of
from modelserve_operator.context import OperatorContext
from modelserve_operator.errors import namespace_terminating, raise_for
from modelserve_operator.indices import one
from modelserve_operator.manifests import children, is_subset
from modelserve_operator.ownership import owned_by

log = logging.getLogger("modelserve_operator")


def _desired_child(
    ctx: OperatorContext, namespace: str, ms: Mapping[str, Any], kind: str, child_name: str
) -> dict[str, Any] | None:
    meta = ms.get("metadata") or {}
    try:
        owner = owner_of(
            namespace, str(meta.get("name")), meta, ms.get("spec") or {}, ctx.server_uuid_key
        )
    except ValidationError:
        return None
    for child in children(owner, ctx.manifest_config):
        if child["kind"] == kind and child["metadata"]["name"] == child_name:
            return child
    return None


def restore_child(
    ctx: OperatorContext,
    event_type: str,
    body: Mapping[str, Any],
    modelserves_idx: kopf.Index[Any, Any],
) -> None:
    meta = body.get("metadata") or {}
    namespace = str(meta.get("namespace"))
    owner_name = (meta.get("labels") or {}).get(MODELSERVE_LABEL)
    if not owner_name:
        return
    ms = one(modelserves_idx, (namespace, owner_name))
    if ms is None or (ms.get("metadata") or {}).get("deletionTimestamp"):
        return
    uid = str((ms.get("metadata") or {}).get("uid"))
    deleted = event_type == "DELETED"
    if not deleted and not owned_by(body, uid):
        return  # left over from an earlier ModelServe of the same name: GC removes it
    desired = _desired_child(ctx, namespace, ms, str(body.get("kind")), str(meta.get("name")))
    if desired is None:
        return
    if not deleted and is_subset(desired, body):
        return
    if deleted and kubeapi.get_modelserve(ctx.api, namespace, owner_name) is None:
        return  # the owner is being deleted: this is garbage collection at work
    try:
        # re-creating a deleted child takes over nothing that appeared in its place meanwhile
        kubeapi.apply(ctx.api, desired, force=not deleted)
    except ApiException as exc:
        if namespace_terminating(exc):
            return
        if deleted and exc.status == 409:
            return  # another object took the name: the next reconcile reports it
        raise_for(exc, f"restore {desired['kind']} {desired['metadata']['name']}")
    log.info(
        "restored %s %s (%s)",
        desired["kind"],
        desired["metadata"]["name"],
        "deleted" if deleted else "edited",
        extra={
            "modelserve": owner_name,
            "namespace": namespace,
            "server_uuid": trusted_server_uuid(ms["metadata"], ctx.server_uuid_key),
        },
    )
