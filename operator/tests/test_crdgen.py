"""The committed CRD must be what the generator makes from the typed models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from modelserve_operator.crdgen import crd, render, structural

CRD_PATH = Path(__file__).resolve().parents[2] / "crds" / "modelserve.yaml"


def test_committed_crd_is_current() -> None:
    assert CRD_PATH.read_text() == render(), (
        "crds/modelserve.yaml is stale: run "
        "`uv run python -m modelserve_operator.crdgen > crds/modelserve.yaml`"
    )


def _walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_walk(value))
    return found


def test_schema_is_structural() -> None:
    schema = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for node in _walk(schema):
        for forbidden in ("$ref", "$defs", "anyOf", "title", "const"):
            assert forbidden not in node, f"{forbidden} in {node}"
        assert node.get("default", "x") is not None
        if node.get("type") == "object" and "properties" in node:
            assert "additionalProperties" not in node
    # every property node names its type (structural schema rule)
    props = [n for n in _walk(schema) if "properties" in n]
    for node in props:
        for name, sub in node["properties"].items():
            assert "type" in sub, name


def test_crd_shape() -> None:
    version = crd()["spec"]["versions"][0]
    assert crd()["spec"]["names"]["shortNames"] == ["ms"]
    assert version["subresources"]["scale"]["specReplicasPath"] == ".spec.replicas"
    assert "status" in version["subresources"]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Phase",
        "Ready",
        "Model",
        "GPUs",
        "Endpoint",
        "Age",
    ]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["required"] == ["model"]
    assert spec["properties"]["replicas"]["minimum"] == 0
    assert spec["properties"]["gpu"]["default"] == {}
    assert spec["properties"]["runtime"]["properties"]["tensorSplitMode"]["enum"] == [
        "Even",
        "Ratios",
        "Memory",
    ]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert "Unschedulable" not in status["properties"]["phase"]["enum"]
    assert "Stopped" in status["properties"]["phase"]["enum"]
    assert yaml.safe_load(render())["metadata"]["name"] == "modelserves.inference-service.dev"


def test_structural_rewrites() -> None:
    defs = {"X": {"type": "object", "title": "X", "properties": {"a": {"type": "integer"}}}}
    assert structural(
        {"anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}], "default": None}, defs
    ) == {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
    }
    assert structural({"type": "number", "exclusiveMinimum": 0}, {}) == {
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
    }
    assert structural({"type": "object", "additionalProperties": {"type": "string"}}, {}) == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
