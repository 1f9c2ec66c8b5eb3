"""The model volume of a llama.cpp pod and where the GGUF sits in it.

A `pvc` model source mounts the user's claim read-only. An s3 source is fetched into a file
named by its sha256 (`/models/<sha256>.gguf`), so one directory can hold many models and be
shared: with `MODEL_CACHE_TYPE` `hostPath` (a directory of the node) or `pvc` (one claim,
ReadWriteMany across nodes) replicas and restarts reuse the verified file instead of
downloading it again; `none` gives each pod its own emptyDir (sized for the model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from inference_common.modelserve import ModelServeSpec

MODEL_DIR = "/models"
MODEL_VOLUME = "model"

CacheType = Literal["none", "hostPath", "pvc"]


@dataclass(frozen=True)
class ModelCache:
    """The operator's `MODEL_CACHE_TYPE`, `MODEL_CACHE_HOST_PATH` and `MODEL_CACHE_CLAIM`."""

    type: CacheType = "none"
    host_path: str = "/var/lib/inference-service/models"
    claim: str = ""

    def __post_init__(self) -> None:
        if self.type == "pvc" and not self.claim:
            raise ValueError("MODEL_CACHE_CLAIM is required with MODEL_CACHE_TYPE=pvc")
        if self.type == "hostPath" and not self.host_path.startswith("/"):
            raise ValueError(f"MODEL_CACHE_HOST_PATH must be absolute, not {self.host_path!r}")


def model_path(spec: ModelServeSpec) -> str:
    """Where llama.cpp reads the GGUF inside the pod."""
    source = spec.model.source
    if source.pvc is not None:
        return f"{MODEL_DIR}/{source.pvc.path}"
    assert spec.model.sha256 is not None
    return f"{MODEL_DIR}/{spec.model.sha256}.gguf"


def model_volume(spec: ModelServeSpec, cache: ModelCache) -> dict[str, Any]:
    source = spec.model.source
    if source.pvc is not None:
        return {
            "name": MODEL_VOLUME,
            "persistentVolumeClaim": {"claimName": source.pvc.claim_name, "readOnly": True},
        }
    if cache.type == "hostPath":
        # Directory, not DirectoryOrCreate: a directory the kubelet creates belongs to root
        # and the fetch (UID 65532) could not write it; a missing one fails the pod clearly.
        return {"name": MODEL_VOLUME, "hostPath": {"path": cache.host_path, "type": "Directory"}}
    if cache.type == "pvc":
        return {"name": MODEL_VOLUME, "persistentVolumeClaim": {"claimName": cache.claim}}
    empty_dir: dict[str, Any] = {}
    if spec.model.size_bytes:
        # room for the file, its partial copy never coexists with it; 10 % + 64 MiB slack
        empty_dir["sizeLimit"] = str(int(spec.model.size_bytes * 1.1) + (64 << 20))
    return {"name": MODEL_VOLUME, "emptyDir": empty_dir}
