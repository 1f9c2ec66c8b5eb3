"""Which server uuid a ModelServe may claim. A label is only a claim (anyone who may create a
ModelServe may set it); the API vouches for the uuids it issues with an HMAC-SHA256 over
(namespace, name, server uuid) in an annotation. The operator routes a ModelServe at its
labelled uuid only when that signature checks out, otherwise at its own metadata.uid.

A second signature covers who owns the server and who may use it (`trusted_access`): the
gateway routes a caller only to servers it may use."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inference_common.modelserve import GROUP, SERVER_UUID_LABEL

SIGNATURE_ANNOTATION = f"{GROUP}/server-uuid-signature"


def sign_server_uuid(key: str, namespace: str, name: str, server_uuid: str) -> str:
    """The annotation value vouching that `server_uuid` was issued for namespace/name."""
    message = json.dumps([namespace, name, server_uuid], separators=(",", ":")).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def issued_server_uuid(metadata: Mapping[str, Any], key: str) -> str | None:
    """The labelled server uuid when the API issued it for this very object, else None
    (no key, no label, no or a wrong signature, or a signature made for another object)."""
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    claimed = labels.get(SERVER_UUID_LABEL)
    signature = annotations.get(SIGNATURE_ANNOTATION)
    if not (key and isinstance(claimed, str) and claimed and isinstance(signature, str)):
        return None
    expected = sign_server_uuid(
        key, str(metadata.get("namespace", "")), str(metadata.get("name", "")), claimed
    )
    return claimed if hmac.compare_digest(expected, signature) else None


def trusted_server_uuid(metadata: Mapping[str, Any], key: str) -> str:
    """The uuid a ModelServe is served at: the API-issued one, else its own metadata.uid."""
    issued = issued_server_uuid(metadata, key)
    if issued is not None:
        return issued
    uid = metadata.get("uid")
    if not uid:
        raise ValueError("metadata has no uid")
    return str(uid)


OWNER_ANNOTATION = f"{GROUP}/owner"
VISIBILITY_ANNOTATION = f"{GROUP}/visibility"
ACCESS_SIGNATURE_ANNOTATION = f"{GROUP}/access-signature"
PRIVATE = "private"
NAMESPACE = "namespace"
PUBLIC = "public"
VISIBILITIES = (PRIVATE, NAMESPACE, PUBLIC)


@dataclass(frozen=True)
class ServerAccess:
    """Who may use a server: its owner (a user id; None for ModelServes the API did not
    create) and its visibility (`private`: the owner and admins; `namespace`: also every
    user whose allowed namespaces (their contract's, else the global default) include the
    server's namespace — its team; `public`: every caller)."""

    owner: str | None
    visibility: str


UNOWNED = ServerAccess(owner=None, visibility=PUBLIC)
"""ModelServes made with kubectl (or with a missing or forged access signature): whoever may
create ModelServes runs the cluster, so their servers are usable by every caller — but
never ahead of a caller's own server of the same name."""


def sign_access(
    key: str, namespace: str, name: str, server_uuid: str, owner: str, visibility: str
) -> str:
    """The annotation value vouching for owner and visibility of the issued server uuid.
    A separate signature from the uuid's, so servers signed before it keep their uuid."""
    message = json.dumps(
        ["access", namespace, name, server_uuid, owner, visibility], separators=(",", ":")
    ).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def access_annotations(
    key: str, namespace: str, name: str, server_uuid: str, owner: str, visibility: str
) -> dict[str, str]:
    """The annotations the API sets on a ModelServe it creates (or changes visibility of)."""
    return {
        OWNER_ANNOTATION: owner,
        VISIBILITY_ANNOTATION: visibility,
        ACCESS_SIGNATURE_ANNOTATION: sign_access(
            key, namespace, name, server_uuid, owner, visibility
        ),
    }


def trusted_access(metadata: Mapping[str, Any], key: str) -> ServerAccess:
    """Owner and visibility when the API signed them for this object's issued uuid, else
    UNOWNED (a tenant cannot claim another's ownership, nor make a server private to
    itself and so shadow nothing: unsigned is public and ranked below one's own)."""
    server_uuid = issued_server_uuid(metadata, key)
    annotations = metadata.get("annotations") or {}
    owner = annotations.get(OWNER_ANNOTATION)
    visibility = annotations.get(VISIBILITY_ANNOTATION)
    signature = annotations.get(ACCESS_SIGNATURE_ANNOTATION)
    if not (
        server_uuid is not None
        and isinstance(owner, str)
        and owner
        and visibility in VISIBILITIES
        and isinstance(signature, str)
    ):
        return UNOWNED
    expected = sign_access(
        key,
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
        server_uuid,
        owner,
        str(visibility),
    )
    if not hmac.compare_digest(expected, signature):
        return UNOWNED
    return ServerAccess(owner=owner, visibility=str(visibility))
