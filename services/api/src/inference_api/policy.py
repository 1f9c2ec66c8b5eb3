"""Serving policy: may this user run this request? An interface the contract service will
implement later, and the default rules this service applies until then."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from inference_common.errors import ForbiddenError, UnprocessableError
from inference_common.modelserve import GpuSpec


@dataclass(frozen=True)
class ServeRequestFacts:
    """What the policy decides on (no ORM rows, no HTTP)."""

    user_id: str
    role: str
    namespace: str
    model_name: str
    replicas: int
    gpu: GpuSpec


class ServePolicy(Protocol):
    async def check(self, facts: ServeRequestFacts) -> None:
        """Returns when allowed; raises an AppError (403/422) naming the broken rule."""


@dataclass(frozen=True)
class DefaultServePolicy:
    max_replicas: int
    allowed_namespaces: Collection[str]

    async def check(self, facts: ServeRequestFacts) -> None:
        check_default_rules(facts, self.max_replicas, self.allowed_namespaces)


def check_default_rules(
    facts: ServeRequestFacts, max_replicas: int, allowed_namespaces: Collection[str]
) -> None:
    if facts.namespace not in allowed_namespaces:
        raise ForbiddenError(
            f"namespace {facts.namespace!r} is not allowed",
            {"allowed_namespaces": sorted(allowed_namespaces)},
        )
    if facts.replicas > max_replicas:
        raise UnprocessableError(
            f"replicas {facts.replicas} exceeds the limit of {max_replicas}",
            {"max_replicas": max_replicas},
        )
