"""Reading kopf's in-memory indices (views kopf keeps current from its watches)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf


def one(index: kopf.Index[Any, Any], key: Any) -> Any:
    """The single value an index holds under `key`, None when it holds none."""
    store = index.get(key)
    if not store:
        return None
    for item in store:
        return item
    return None


@dataclass(frozen=True)
class StatusIndices:
    """The indices status is computed from, each keyed by (namespace, ModelServe name)."""

    modelserves: kopf.Index[Any, Any]
    deployments: kopf.Index[Any, Any]
    pods: kopf.Index[Any, Any]

    @staticmethod
    def from_kwargs(kwargs: Mapping[str, Any]) -> StatusIndices:
        """The indices kopf passes to every handler as keyword arguments named after the
        indexing functions (startup handlers included)."""
        found = {name: kwargs[name] for name in ("modelserves", "deployments", "pods")}
        for name, index in found.items():
            if not isinstance(index, kopf.Index):
                raise TypeError(f"{name} is not a kopf index")
        return StatusIndices(**found)
