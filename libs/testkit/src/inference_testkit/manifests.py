"""Raw ModelServe manifests for tests and benchmarks. Plain dicts, not the typed models, so a
test can send the apiserver what the pydantic models would refuse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inference_common.modelserve import API_VERSION, KIND
from inference_common.settings import MODELS_BUCKET
from inference_localstack.cluster_objects import SIMULATED_LABEL

DEFAULT_MODEL = "smollm2:135m"
# A well-formed checksum for servers whose file is never fetched (simulated nodes).
PLACEHOLDER_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
ON_SIMULATED_NODES = {SIMULATED_LABEL: "true"}


def modelserve_manifest(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": dict(spec)}


def s3_model(
    key: str,
    sha256: str = PLACEHOLDER_SHA256,
    *,
    size_bytes: int | None = None,
    name: str = DEFAULT_MODEL,
    bucket: str = MODELS_BUCKET,
) -> dict[str, Any]:
    """`spec.model` for a file in the object store."""
    model: dict[str, Any] = {
        "name": name,
        "source": {"s3": {"bucket": bucket, "key": key}},
        "sha256": sha256,
    }
    if size_bytes is not None:
        model["sizeBytes"] = size_bytes
    return model
