"""The ModelServe CRD, generated from the typed models in `inference_common.modelserve`.

    uv run python -m modelserve_operator.crdgen > crds/modelserve.yaml

Pydantic's JSON Schema is turned into a Kubernetes structural schema: references inlined,
optional (nullable) unions collapsed, titles dropped, JSON-Schema-2020 numeric exclusive bounds
rewritten to OpenAPI v3, and CEL rules (`x-kubernetes-validations`) kept.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import yaml

from inference_common.modelserve import (
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    ModelServeSpec,
    ModelServeStatus,
)

NAME_RULE = (
    "self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')"
)
_DROP = frozenset({"title", "additionalProperties", "$defs"})


def structural(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """A Kubernetes structural schema from one pydantic JSON-Schema node."""
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, defs)
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express a union of {len(options)} types: {schema}")
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return structural({**options[0], **rest}, defs)

    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROP:
            continue
        if key == "default" and value is None:
            continue
        if key == "properties":
            out[key] = {name: structural(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out[key] = structural(value, defs)
        elif key in {"exclusiveMinimum", "exclusiveMaximum"} and not isinstance(value, bool):
            out[key.replace("exclusiveM", "m")] = value
            out[key] = True
        else:
            out[key] = value
    if schema.get("type") == "object" and "properties" not in schema:
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            out["additionalProperties"] = structural(extra, defs)
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def _model_schema(model: type[ModelServeSpec] | type[ModelServeStatus]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}))


def _default_empty_objects(schema: dict[str, Any]) -> dict[str, Any]:
    """Sub-objects built by a default factory get `default: {}` so their own defaults apply."""
    for name, field in ModelServeSpec.model_fields.items():
        key = field.alias or name
        prop = schema["properties"].get(key)
        if field.default_factory is not None and prop is not None and prop["type"] == "object":
            prop["default"] = {}
    return schema


def printer_columns() -> list[dict[str, Any]]:
    return [
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas"},
        {"name": "Model", "type": "string", "jsonPath": ".spec.model.name"},
        {"name": "GPUs", "type": "integer", "jsonPath": ".spec.gpu.count"},
        {"name": "Endpoint", "type": "string", "jsonPath": ".status.endpoint"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def crd() -> dict[str, Any]:
    spec_schema = _default_empty_objects(_model_schema(ModelServeSpec))
    status_schema = _model_schema(ModelServeStatus)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": ["all", "inference"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": printer_columns(),
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A model served by llama.cpp on the GPUs it asks for.",
                            "required": ["spec"],
                            "x-kubernetes-validations": [
                                {
                                    "rule": NAME_RULE,
                                    "message": "metadata.name must be a DNS-1035 label of at "
                                    "most 63 characters (it names the Service)",
                                }
                            ],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


HEADER = (
    "# Generated by `uv run python -m modelserve_operator.crdgen` from\n"
    "# libs/common/src/inference_common/modelserve.py. Do not edit by hand.\n"
)


class _NoAliasDumper(yaml.SafeDumper):
    """Writes repeated sub-trees out in full: kubectl and humans read plain YAML."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render() -> str:
    return HEADER + yaml.dump(crd(), Dumper=_NoAliasDumper, sort_keys=False, width=100)


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
