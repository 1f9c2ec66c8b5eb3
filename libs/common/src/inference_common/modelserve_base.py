"""What the ModelServe types and the llama.cpp flag grammar share, so neither imports the other.

The wire model base (camelCase, frozen, no extra fields), the CEL helpers that mirror pydantic
validators in the CRD, the GPU bound both need, the managed-by label, and the one way a
pydantic error becomes a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

MAX_GPUS_PER_REPLICA = 16

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_API = "inference-api"
"""Value of MANAGED_BY_LABEL on the ModelServes the API creates."""
MANAGED_BY_OPERATOR = "modelserve-operator"
"""Value of MANAGED_BY_LABEL on the children the operator creates."""


class WireModel(BaseModel):
    """A Kubernetes object part: snake_case in Python, camelCase on the wire."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=False,
        frozen=True,
    )

    def to_k8s(self) -> dict[str, Any]:
        """The wire form: camelCase, no nulls (the apiserver refuses null for typed fields)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def cel(*rules: tuple[str, str]) -> dict[str, Any]:
    """Cross-field rules for the apiserver (CEL), mirroring the pydantic validators."""
    return {"x-kubernetes-validations": [{"rule": r, "message": m} for r, m in rules]}


def cel_list(items: Sequence[str]) -> str:
    return "[" + ", ".join("'" + item + "'" for item in items) + "]"


def validation_message(exc: ValidationError, root: str | None = None) -> str:
    """`<path>: <reason>` of the first error; `root` prefixes the path (e.g. "spec")."""
    first = exc.errors()[0]
    path = ".".join([*([root] if root else []), *(str(p) for p in first.get("loc", ()))])
    reason = str(first.get("msg"))
    return f"{path}: {reason}" if path else reason
