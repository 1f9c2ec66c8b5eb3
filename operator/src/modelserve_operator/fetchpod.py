"""The model fetch: the init container that fetches (s3) or verifies (pvc) the GGUF, and the
objects of its fetch slots — ConfigMap `N-model-fetch-<digest>-<i>` (which URL window the slot
holds) owning the Secret of the same name (the presigned URL). See fetchslots for their life."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelserve_operator.childmeta import (
    CONTAINER_SECURITY,
    FetchUrl,
    ManifestConfig,
    Owner,
    child_metadata,
)
from modelserve_operator.modelvolume import MODEL_DIR, MODEL_VOLUME, model_path

FETCH_CONTAINER = "model-fetch"
FETCH_SLOTS = 2
MODEL_URL_KEY = "MODEL_URL"
WINDOW_KEY = "window"


def fetch_slot_name(owner: Owner, config: ManifestConfig, slot: int) -> str:
    """`N-model-fetch-<digest>-<slot>`, the digest of the uid, the signing key and the object:
    stable while they are (the pod template names both slots, so renewing a URL rolls no pod),
    and new for a new model or key."""
    s3 = owner.spec.model.source.s3
    target = f"{s3.bucket}/{s3.key}" if s3 is not None else ""
    fields = f"{owner.uid}\0{config.signer_digest}\0{target}"
    digest = hashlib.sha256(fields.encode()).hexdigest()
    return f"{owner.name}-model-fetch-{digest[:10]}-{slot}"


def slot_env_prefix(slot: int) -> str:
    return f"SLOT{slot}_"


def fetch_container(owner: Owner, config: ManifestConfig) -> dict[str, Any] | None:
    """Init container: fetch from the object's presigned URL (s3) or verify in place (pvc
    with sha256). The URL comes from the fetch slots' Secrets (the newest valid one), never
    the command line; a slot may be absent while it is renewed."""
    model = owner.spec.model
    base = ["python", "-m", "inference_common.model_fetch"]
    container: dict[str, Any] = {
        "name": FETCH_CONTAINER,
        "image": config.fetch_image,
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [{"name": MODEL_VOLUME, "mountPath": MODEL_DIR}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"memory": "256Mi"},
        },
    }
    if model.source.s3 is not None:
        assert model.sha256 is not None
        prefixes = [f"--env-prefix={slot_env_prefix(slot)}" for slot in range(FETCH_SLOTS)]
        command = [
            *base,
            "url",
            *prefixes,
            "--sha256",
            model.sha256,
            "--dest",
            model_path(owner.spec),
        ]
        if model.size_bytes is not None:
            command += ["--size", str(model.size_bytes)]
        container["command"] = command
        container["envFrom"] = [
            {
                "prefix": slot_env_prefix(slot),
                "secretRef": {"name": fetch_slot_name(owner, config, slot), "optional": True},
            }
            for slot in range(FETCH_SLOTS)
        ]
        return container
    if model.sha256 is not None:
        container["command"] = [
            *base,
            "verify",
            "--path",
            model_path(owner.spec),
            "--sha256",
            model.sha256,
        ]
        container["volumeMounts"] = [
            {"name": MODEL_VOLUME, "mountPath": MODEL_DIR, "readOnly": True}
        ]
        return container
    return None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def fetch_holder(
    owner: Owner, config: ManifestConfig, slot: int, fetch: FetchUrl
) -> dict[str, Any]:
    """The ConfigMap of a fetch slot: which window's URL the slot holds (nothing secret). It
    owns the slot's Secret, so deleting it removes the Secret (see fetchslots)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": child_metadata(owner, fetch_slot_name(owner, config, slot)),
        "data": {WINDOW_KEY: _iso(fetch.signed), "expires": _iso(fetch.expires)},
    }


def fetch_secret(holder: Mapping[str, Any], fetch: FetchUrl) -> dict[str, Any]:
    """The Secret of a fetch slot: the URL, owned by the slot's ConfigMap as it exists."""
    meta = holder["metadata"]
    values = {MODEL_URL_KEY: fetch.url, f"{MODEL_URL_KEY}_EXPIRES": _iso(fetch.expires)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": dict(meta.get("labels") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }
