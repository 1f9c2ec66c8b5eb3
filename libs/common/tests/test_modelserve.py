"""Tests of the ModelServe models: defaults, wire form and identity (invalid specs: see
test_invalid_specs.py)."""

from __future__ import annotations

from typing import Any

import pytest

from inference_common.modelserve import (
    SERVER_UUID_LABEL,
    ModelServeSpec,
    endpoint_path,
    modelserve_object,
    server_uuid_of,
)

SHA = "a" * 64


def spec_dict(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": {
            "name": "smollm2:135m",
            "source": {"s3": {"bucket": "inference-models", "key": "m.gguf"}},
            "sha256": SHA,
        }
    }
    base.update(overrides)
    return base


def test_spec_defaults_and_wire_form() -> None:
    spec = ModelServeSpec.model_validate(
        spec_dict(gpu={"count": 2, "minMemoryGiB": 16}, runtime={"contextSize": 2048})
    )
    assert spec.replicas == 1
    assert spec.gpu.min_memory_gib == 16
    wire = spec.to_k8s()
    assert wire["gpu"] == {"count": 2, "minMemoryGiB": 16}
    assert wire["runtime"]["contextSize"] == 2048
    assert "image" not in wire  # no nulls on the wire
    assert ModelServeSpec.model_validate(wire) == spec


def test_pvc_source_needs_no_checksum() -> None:
    spec = ModelServeSpec.model_validate(
        {"model": {"name": "m", "source": {"pvc": {"claimName": "models", "path": "a/m.gguf"}}}}
    )
    assert spec.model.source.pvc is not None
    assert spec.model.source.pvc.claim_name == "models"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"uid": "u-1", "labels": {SERVER_UUID_LABEL: "s-1"}}, "s-1"),
        ({"uid": "u-1", "labels": {}}, "u-1"),
        ({"uid": "u-1"}, "u-1"),
    ],
)
def test_server_uuid_of(metadata: dict[str, Any], expected: str) -> None:
    assert server_uuid_of(metadata) == expected


def test_server_uuid_of_needs_something() -> None:
    with pytest.raises(ValueError, match="neither"):
        server_uuid_of({})


def test_modelserve_object() -> None:
    spec = ModelServeSpec.model_validate(spec_dict())
    obj = modelserve_object("s", spec, server_uuid="abc", labels={"team": "a"})
    assert obj["apiVersion"] == "inference-service.dev/v1alpha1"
    assert obj["kind"] == "ModelServe"
    assert obj["metadata"]["labels"] == {"team": "a", SERVER_UUID_LABEL: "abc"}
    assert obj["spec"]["model"]["name"] == "smollm2:135m"
    assert endpoint_path("abc") == "/abc/"
