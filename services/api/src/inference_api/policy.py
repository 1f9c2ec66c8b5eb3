"""Serving policy: may this user run this request? An interface the contract service will
implement later, and the default rules this service applies until then.

Default rules: the namespace must be allowed, replicas at most the configured limit, and
for users who are not admins no `--mlock` / `--no-mmap` (they hold a whole model in the
node's RAM, outside what the scheduler accounts for) and at most MAX_USER_PARALLEL slots.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from inference_common.errors import ForbiddenError, UnprocessableError
from inference_common.llama_flags import RuntimeSettings, extra_flags
from inference_common.modelserve import GpuSpec

MAX_USER_PARALLEL = 64
"""--parallel slots a user who is not an admin may ask for."""

ADMIN_ONLY_FLAGS: Mapping[str, str] = {
    "--mlock": "it locks the whole model in the node's RAM",
    "--no-mmap": "it reads the whole model into the server's own memory",
}


@dataclass(frozen=True)
class ServeRequestFacts:
    """What the policy decides on (no ORM rows, no HTTP)."""

    user_id: str
    role: str
    namespace: str
    model_name: str
    replicas: int
    gpu: GpuSpec
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)


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
    if facts.role != "admin":
        check_user_runtime(facts.runtime)


def check_user_runtime(runtime: RuntimeSettings) -> None:
    """The llama.cpp settings only admins may use."""
    flags = extra_flags(runtime.extra_args)
    for flag, why in ADMIN_ONLY_FLAGS.items():
        if flag in flags:
            raise ForbiddenError(
                f"runtime_params: {flag} is for admins only ({why})",
                {"rule": "admin_only_flag", "flag": flag},
            )
    if runtime.parallel is not None and runtime.parallel > MAX_USER_PARALLEL:
        raise ForbiddenError(
            f"runtime_params: --parallel {runtime.parallel} exceeds {MAX_USER_PARALLEL} "
            "slots for users who are not admins",
            {"rule": "max_parallel", "flag": "--parallel", "limit": MAX_USER_PARALLEL},
        )
