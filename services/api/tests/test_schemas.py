"""The serve request takes its limits from the ModelServe types: what one refuses, so does
the other, and a name the registry holds is one the CRD accepts."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from inference_api.schemas import ServeRequest
from inference_common.modelserve import ModelServeSpec

SHA = "a" * 64


def spec_for(request: ServeRequest) -> ModelServeSpec:
    return ModelServeSpec.model_validate(
        {
            "model": {
                "name": request.model_name,
                "source": {"s3": {"bucket": "inference-models", "key": "k"}},
                "sha256": SHA,
            },
            "replicas": request.replicas,
            "gpu": {
                "count": request.gpu.count,
                "product": request.gpu.product,
                "minMemoryGiB": request.gpu.min_memory_gib,
            },
        }
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"model_name": "smollm2:135m"},
        {"model_name": "TheOrg/Some-Model-7B:q4_k_m"},
        {"model_name": "m" * 253},
        {"model_name": "m", "replicas": 64},
        {"model_name": "m", "gpu": {"count": 16, "product": "NVIDIA-GeForce-RTX-4090"}},
        {"model_name": "m", "gpu": {"count": 1, "min_memory_gib": 1024}},
        {"model_name": "m", "runtime_params": " " * 2000},
    ],
)
def test_accepted_requests_make_valid_specs(fields: dict[str, Any]) -> None:
    spec = spec_for(ServeRequest.model_validate(fields))
    assert spec.model.name == fields["model_name"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"model_name": "m" * 254}, "model_name"),
        ({"model_name": "smol lm"}, "model_name"),
        ({"model_name": "/etc/passwd"}, "model_name"),
        ({"model_name": "m", "replicas": 65}, "replicas"),
        ({"model_name": "m", "replicas": 0}, "replicas"),
        ({"model_name": "m", "gpu": {"count": 17}}, "gpu.count"),
        ({"model_name": "m", "gpu": {"count": 1, "product": "RTX 4090"}}, "gpu.product"),
        ({"model_name": "m", "gpu": {"count": 1, "min_memory_gib": 1025}}, "gpu.min_memory_gib"),
        ({"model_name": "m", "runtime_params": " " * 2001}, "runtime_params"),
    ],
)
def test_refused_requests_name_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ServeRequest.model_validate(fields)
    assert [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()] == [field]
