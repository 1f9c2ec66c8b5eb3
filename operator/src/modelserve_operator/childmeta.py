"""What every child of a ModelServe shares: who owns it (`Owner`), the operator-wide inputs
(`ManifestConfig`), and the labels, owner reference and metadata each child carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from inference_common.modelserve import (
    API_VERSION,
    KIND,
    MODELSERVE_LABEL,
    SERVER_UUID_LABEL,
    ModelServeSpec,
)
from inference_common.modelserve_base import MANAGED_BY_LABEL, MANAGED_BY_OPERATOR
from inference_common.server_identity import trusted_server_uuid
from modelserve_operator.modelvolume import ModelCache

CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


@dataclass(frozen=True)
class Owner:
    """The ModelServe the children belong to."""

    name: str
    namespace: str
    uid: str
    server_uuid: str
    spec: ModelServeSpec


@dataclass(frozen=True)
class ManifestConfig:
    """Operator-wide inputs to the manifests (from OperatorSettings)."""

    llama_image: str
    llama_cuda_image: str
    fetch_image: str
    entry_point: str = "web"
    signer_digest: str = ""
    """`FetchUrlSigner.digest` (of the key the URLs are signed with): part of the fetch slots'
    names, so nobody can create an object of such a name ahead of the operator."""
    authz_url: str | None = None
    """The gateway as Traefik reaches it: each route asks `<authz_url>/authz/servers/<uuid>`
    (ForwardAuth) before a request goes through. None: routes without authentication."""
    network_policy_peers: tuple[dict[str, Any], ...] = ()
    """NetworkPolicy peers that may reach the pods' port (Traefik's and the gateway's pods);
    empty: no NetworkPolicy."""
    model_cache: ModelCache = field(default_factory=ModelCache)
    """Where s3-sourced models are kept (see modelvolume)."""


@dataclass(frozen=True)
class FetchUrl:
    """A presigned GET URL of the model's object (a credential: it goes in a Secret only),
    signed at `signed` (its window's start) and valid until `expires`."""

    url: str
    signed: datetime
    expires: datetime


def owner_of(
    namespace: str,
    name: str,
    meta: Mapping[str, Any],
    spec: Mapping[str, Any],
    server_uuid_key: str,
) -> Owner:
    """The Owner of a ModelServe object; raises pydantic's ValidationError for a bad spec.
    Its server uuid is the API-issued one only when the API's signature checks out."""
    return Owner(
        name=name,
        namespace=namespace,
        uid=str(meta["uid"]),
        server_uuid=trusted_server_uuid(meta, server_uuid_key),
        spec=ModelServeSpec.model_validate(dict(spec)),
    )


def selector_labels(owner: Owner) -> dict[str, str]:
    """Pod selector of the Deployment and Service: stable for the ModelServe's life."""
    return {MODELSERVE_LABEL: owner.name}


def child_labels(owner: Owner) -> dict[str, str]:
    return {
        **selector_labels(owner),
        SERVER_UUID_LABEL: owner.server_uuid,
        MANAGED_BY_LABEL: MANAGED_BY_OPERATOR,
        "app.kubernetes.io/name": "llama-server",
        "app.kubernetes.io/instance": owner.name,
        "app.kubernetes.io/component": "model-server",
    }


def owner_reference(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def child_metadata(owner: Owner, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": child_labels(owner),
        "ownerReferences": [owner_reference(owner)],
    }
