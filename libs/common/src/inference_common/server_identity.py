"""Which server uuid a ModelServe may claim. A label is only a claim (anyone who may create a
ModelServe may set it); the API vouches for the uuids it issues with an HMAC-SHA256 over
(namespace, name, server uuid) in an annotation. The operator routes a ModelServe at its
labelled uuid only when that signature checks out, otherwise at its own metadata.uid."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
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
