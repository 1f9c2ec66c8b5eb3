"""The ModelServe resource: its identity, typed spec and status.

This module is the single source of truth for the ModelServe custom resource. The operator
generates `crds/modelserve.yaml` from these models; the API builds ModelServes from them and
takes its own limits (model names, replicas, GPUs) from here; the gateway reads
`spec.model.name` and the server-uuid label. `spec.runtime` is `RuntimeSettings` from
`inference_common.llama_flags`.

Field names are snake_case in Python and camelCase on the wire (`by_alias=True`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import ConfigDict, Field, model_validator

from inference_common.llama_flags import RuntimeSettings
from inference_common.modelserve_base import MAX_GPUS_PER_REPLICA, WireModel, cel

GROUP = "inference-service.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ModelServe"
PLURAL = "modelserves"
SINGULAR = "modelserve"
SHORT_NAMES = ("ms",)

SERVER_UUID_LABEL = f"{GROUP}/server-uuid"
"""Label holding the server uuid; the route is `/<server-uuid>/`. Without it: metadata.uid."""
MODELSERVE_LABEL = f"{GROUP}/modelserve"
"""Label on children naming the ModelServe they belong to (the ModelServe's metadata.name)."""

ALIASES_ANNOTATION = f"{GROUP}/aliases"
"""Comma-separated further model names the gateway answers to with this ModelServe (its
metadata.name is one too); the contract webhook refuses names the principal may not claim."""

LLAMA_PORT = 8080
"""llama.cpp's server listens here; the Service port named `http` forwards to it."""

MAX_REPLICAS = 64

MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$"
"""Registry names: `smollm2:135m`, and `org/name:quant` as imports name them."""
MODEL_NAME_MAX_LENGTH = 253

ModelName = Annotated[
    str, Field(min_length=1, max_length=MODEL_NAME_MAX_LENGTH, pattern=MODEL_NAME_PATTERN)
]
GpuCount = Annotated[int, Field(ge=0, le=MAX_GPUS_PER_REPLICA)]
GpuProduct = Annotated[
    str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
GpuMemoryGiB = Annotated[int, Field(ge=1, le=1024)]

_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$"
_LABEL_KEY = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
_SHA256 = r"^[a-f0-9]{64}$"
_S3_KEY = r"^[^/\x00][^\x00]*$"
_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_REL_PATH = r"^[^/\x00]([^\x00]*[^/\x00])?$"


# --- model location -------------------------------------------------------------------------


class S3Source(WireModel):
    """An object in the platform's MinIO."""

    bucket: Annotated[str, Field(pattern=_BUCKET, description="Bucket name.")]
    key: Annotated[
        str, Field(min_length=1, max_length=1024, pattern=_S3_KEY, description="Object key.")
    ]


class PvcSource(WireModel):
    """A GGUF file already present on a PersistentVolumeClaim in the ModelServe's namespace."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("!self.path.split('/').exists(p, p == '..')", "path must not contain '..'")
        )
    )

    claim_name: Annotated[
        str, Field(min_length=1, max_length=253, description="PersistentVolumeClaim name.")
    ]
    path: Annotated[
        str,
        Field(
            min_length=1,
            max_length=1024,
            pattern=_REL_PATH,
            description="Path of the .gguf file inside the volume (relative).",
        ),
    ]

    @model_validator(mode="after")
    def _no_parent_dirs(self) -> Self:
        if ".." in self.path.split("/"):
            raise ValueError("path must not contain '..'")
        return self


class ModelSource(WireModel):
    """Where the GGUF file comes from: exactly one of `s3` or `pvc`."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("has(self.s3) != has(self.pvc)", "exactly one of source.s3 or source.pvc must be set")
        )
    )

    s3: S3Source | None = Field(None, description="Object in MinIO.")
    pvc: PvcSource | None = Field(None, description="File on a PersistentVolumeClaim.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.s3 is None) == (self.pvc is None):
            raise ValueError("exactly one of source.s3 or source.pvc must be set")
        return self


class ModelRef(WireModel):
    """The served model: its registry identity and where its bytes are."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("!has(self.source.s3) || has(self.sha256)", "sha256 is required when source.s3 is set")
        )
    )

    name: ModelName = Field(description="Registry name clients ask for, e.g. smollm2:135m.")
    uuid: str | None = Field(None, max_length=64, description="Registry uuid of the model.")
    source: ModelSource
    sha256: str | None = Field(
        None, pattern=_SHA256, description="Hex SHA-256 of the file; required for s3."
    )
    size_bytes: int | None = Field(None, ge=0, description="Size of the file in bytes.")

    @model_validator(mode="after")
    def _checksum_for_s3(self) -> Self:
        if self.source.s3 is not None and self.sha256 is None:
            raise ValueError("sha256 is required when source.s3 is set")
        return self


# --- GPUs -----------------------------------------------------------------------------------


class GpuSpec(WireModel):
    """GPUs per replica and which cards qualify (a product, or a minimum memory size)."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "!(has(self.product) && has(self.minMemoryGiB))",
                "set at most one of gpu.product or gpu.minMemoryGiB",
            ),
            (
                "(has(self.count) && self.count >= 1) || "
                "!(has(self.product) || has(self.minMemoryGiB))",
                "gpu.product and gpu.minMemoryGiB need gpu.count >= 1",
            ),
        )
    )

    count: GpuCount = Field(0, description="nvidia.com/gpu per replica; 0 = CPU.")
    product: GpuProduct | None = Field(
        None,
        description="Value of the node label nvidia.com/gpu.product, e.g. NVIDIA-GeForce-RTX-4090.",
    )
    min_memory_gib: GpuMemoryGiB | None = Field(
        None,
        alias="minMemoryGiB",
        description="Minimum memory per card in GiB (node label nvidia.com/gpu.memory, MiB).",
    )

    @model_validator(mode="after")
    def _one_selector(self) -> Self:
        if self.product is not None and self.min_memory_gib is not None:
            raise ValueError("set at most one of gpu.product or gpu.minMemoryGiB")
        if self.count == 0 and (self.product is not None or self.min_memory_gib is not None):
            raise ValueError("gpu.product and gpu.minMemoryGiB need gpu.count >= 1")
        return self


# --- resources, scheduling ------------------------------------------------------------------


class ResourceList(WireModel):
    cpu: str | None = Field(None, pattern=_QUANTITY, description="CPU quantity, e.g. 500m.")
    memory: str | None = Field(None, pattern=_QUANTITY, description="Memory quantity, e.g. 4Gi.")


class Resources(WireModel):
    """CPU and memory of the llama.cpp container (GPUs come from spec.gpu)."""

    requests: ResourceList | None = None
    limits: ResourceList | None = None


class TolerationOperator(StrEnum):
    EXISTS = "Exists"
    EQUAL = "Equal"


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class Toleration(WireModel):
    key: str | None = Field(None, max_length=316, pattern=_LABEL_KEY)
    operator: TolerationOperator = TolerationOperator.EQUAL
    value: str | None = Field(None, max_length=63)
    effect: TaintEffect | None = None
    toleration_seconds: int | None = Field(None, ge=0)


# --- the spec -------------------------------------------------------------------------------


class ModelServeSpec(WireModel):
    """Desired state of one served model."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "!has(self.runtime) || !has(self.runtime.tensorSplit) || "
                "size(self.runtime.tensorSplit) == "
                "(has(self.gpu) && has(self.gpu.count) ? self.gpu.count : 0)",
                "runtime.tensorSplit needs one ratio per GPU (gpu.count)",
            )
        )
    )

    model: ModelRef
    replicas: int = Field(1, ge=0, le=MAX_REPLICAS, description="llama.cpp replicas; 0 stops.")
    gpu: GpuSpec = Field(default_factory=GpuSpec, description="GPUs per replica.")
    runtime: RuntimeSettings = Field(
        default_factory=RuntimeSettings, description="llama.cpp server settings."
    )
    image: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$",
        description="Overrides the official llama.cpp server image.",
    )
    resources: Resources | None = Field(None, description="CPU/memory of the server container.")
    node_selector: dict[str, str] | None = Field(None, description="Extra node labels to match.")
    tolerations: list[Toleration] | None = Field(None, max_length=32)

    @model_validator(mode="after")
    def _split_matches_gpus(self) -> Self:
        split = self.runtime.tensor_split
        if split is not None and len(split) != self.gpu.count:
            raise ValueError(
                "runtime.tensorSplit needs one ratio per GPU (gpu.count): "
                f"{len(split)} ratios for {self.gpu.count} GPUs"
            )
        return self


# --- the status -----------------------------------------------------------------------------


class Phase(StrEnum):
    PENDING = "Pending"
    DOWNLOADING = "Downloading"
    LOADING = "Loading"
    READY = "Ready"
    DEGRADED = "Degraded"
    FAILED = "Failed"
    STOPPED = "Stopped"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(WireModel):
    type: str = Field(max_length=316, description="Ready, Available, Scheduled, ModelFetched, …")
    status: ConditionStatus
    reason: str | None = Field(None, max_length=1024, description="CamelCase reason.")
    message: str | None = Field(None, max_length=32768, description="Human-readable detail.")
    last_transition_time: str | None = Field(None, description="RFC 3339 time.")


class ModelServeStatus(WireModel):
    """Observed state, written by the operator only."""

    phase: Phase = Phase.PENDING
    replicas: int = Field(0, ge=0, description="Pods that exist (scale subresource).")
    ready_replicas: int = Field(0, ge=0, description="Pods whose readiness probe passes.")
    endpoint: str | None = Field(None, description="Route path, /<server-uuid>/.")
    server_uuid: str | None = Field(None, description="Server uuid of the route.")
    selector: str | None = Field(None, description="Label selector of the pods (scale).")
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = Field(None, description="metadata.generation last acted on.")


# --- identity -------------------------------------------------------------------------------


def server_uuid_of(metadata: Mapping[str, Any]) -> str:
    """The server uuid: the label when set (API-created), else metadata.uid (kubectl)."""
    labels = metadata.get("labels") or {}
    value = labels.get(SERVER_UUID_LABEL)
    if value:
        return str(value)
    uid = metadata.get("uid")
    if not uid:
        raise ValueError("metadata has neither the server-uuid label nor a uid")
    return str(uid)


def endpoint_path(server_uuid: str) -> str:
    return f"/{server_uuid}/"


def modelserve_object(
    name: str,
    spec: ModelServeSpec,
    server_uuid: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ModelServe object ready to create (the API uses this for POST /serve)."""
    all_labels = dict(labels or {})
    if server_uuid is not None:
        all_labels[SERVER_UUID_LABEL] = server_uuid
    metadata: dict[str, Any] = {"name": name}
    if all_labels:
        metadata["labels"] = all_labels
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec.to_k8s()}
