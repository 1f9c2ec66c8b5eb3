from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from inference_api.schemas import ServeRequest
from inference_api.serving import Placement, build_spec
from inference_common.errors import UnprocessableError
from inference_common.modelserve import Toleration
from inference_common.tables import Model


def model() -> Model:
    return Model(
        uuid=uuid4(),
        name="smollm2:135m",
        object_key="models/x.gguf",
        size_bytes=123,
        sha256="b" * 64,
        state="ready",
    )


def request(**fields: Any) -> ServeRequest:
    return ServeRequest.model_validate({"model_name": "smollm2:135m", **fields})


@pytest.mark.parametrize(
    ("fields", "runtime"),
    [
        ({}, {"tensorSplitMode": "Even", "extraArgs": []}),
        (
            {"runtime_params": "--ctx-size 2048"},
            {"contextSize": 2048, "tensorSplitMode": "Even", "extraArgs": []},
        ),
        (
            {"runtime_params": "-c 4096 -ngl 99 -fa on --temp 0.5"},
            {
                "contextSize": 4096,
                "gpuLayers": 99,
                "flashAttention": "on",
                "tensorSplitMode": "Even",
                "extraArgs": ["--temp", "0.5"],
            },
        ),
    ],
)
def test_runtime_params_become_typed_settings(
    fields: dict[str, Any], runtime: dict[str, Any]
) -> None:
    m = model()
    spec = build_spec(m, "inference-models", request(**fields)).to_k8s()
    assert spec["runtime"] == runtime
    assert spec["model"] == {
        "name": "smollm2:135m",
        "uuid": str(m.uuid),
        "source": {"s3": {"bucket": "inference-models", "key": "models/x.gguf"}},
        "sha256": "b" * 64,
        "sizeBytes": 123,
    }


@pytest.mark.parametrize(
    ("fields", "flag"),
    [
        ({"runtime_params": "--model /etc/passwd"}, "--model"),
        ({"runtime_params": "--api-key x"}, "--api-key"),
        ({"runtime_params": "-c"}, "-c"),
        ({"runtime_params": "'unbalanced"}, "runtime_params"),
        ({"runtime_params": "-ts 1,1", "gpu": {"count": 1}}, None),
        ({"gpu": {"count": 1, "product": "X", "min_memory_gib": 8}}, None),
    ],
)
def test_refused_requests_name_the_problem(fields: dict[str, Any], flag: str | None) -> None:
    with pytest.raises(UnprocessableError) as caught:
        build_spec(model(), "inference-models", request(**fields))
    if flag is not None:
        assert caught.value.detail["flag"] == flag
        assert flag in caught.value.message


def test_placement_is_added() -> None:
    placement = Placement(
        {"local": "true"}, [Toleration(key="local", operator="Exists", effect="NoSchedule")]
    )
    spec = build_spec(model(), "b-k", request(gpu={"count": 2}), placement).to_k8s()
    assert spec["nodeSelector"] == {"local": "true"}
    assert spec["tolerations"] == [{"key": "local", "operator": "Exists", "effect": "NoSchedule"}]
    assert spec["gpu"] == {"count": 2}


def test_either_model_uuid_or_name_is_needed() -> None:
    with pytest.raises(ValueError, match="model_uuid or model_name"):
        ServeRequest.model_validate({"replicas": 1})
