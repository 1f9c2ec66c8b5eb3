"""The policy decision, a pure function: may this principal run this server, given the
effective limits and current usage of its owner and namespace? Every violated rule is
reported (not just the first), with a machine-readable code; warnings say what is close.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase

from inference_common.model_access import ModelAccess, may_serve
from inference_contract.facts import ModelFacts, Principal, ServerRequest
from inference_contract.limits import Limits, Usage

ADMIN_ONLY_FLAGS = frozenset({"--mlock", "--no-mmap"})


class Reason(StrEnum):
    NAMESPACE_NOT_ALLOWED = "namespace_not_allowed"
    SERVER_QUOTA = "server_quota_exceeded"
    REPLICAS_PER_SERVER = "replicas_per_server_exceeded"
    GPU_QUOTA = "gpu_quota_exceeded"
    GPUS_PER_REPLICA = "gpus_per_replica_exceeded"
    GPU_MEMORY_QUOTA = "gpu_memory_quota_exceeded"
    GPU_PRODUCT_NOT_ALLOWED = "gpu_product_not_allowed"
    IMAGE_NOT_ALLOWED = "image_not_allowed"
    CONTEXT_SIZE_LIMIT = "context_size_exceeded"
    CONTEXT_ABOVE_MODEL = "context_size_above_model"
    PARALLEL_LIMIT = "parallel_exceeded"
    THREADS_LIMIT = "threads_exceeded"
    BATCH_SIZE_LIMIT = "batch_size_exceeded"
    ADMIN_ONLY_FLAG = "admin_only_flag"
    MODEL_NOT_ALLOWED = "model_not_allowed"
    ALIAS_NOT_ALLOWED = "alias_not_allowed"
    ALIAS_TAKEN = "alias_taken"
    NAME_TAKEN_BY_CHILD = "name_collides_with_child"
    SERVER_UUID_NOT_ISSUED = "server_uuid_not_issued"
    NEAR_QUOTA = "near_quota"


STATUS_CODES: dict[Reason, int] = {
    Reason.NAMESPACE_NOT_ALLOWED: 403,
    Reason.GPU_PRODUCT_NOT_ALLOWED: 403,
    Reason.IMAGE_NOT_ALLOWED: 403,
    Reason.ADMIN_ONLY_FLAG: 403,
    Reason.MODEL_NOT_ALLOWED: 403,
    Reason.ALIAS_NOT_ALLOWED: 403,
    Reason.SERVER_UUID_NOT_ISSUED: 403,
    Reason.ALIAS_TAKEN: 409,
    Reason.NAME_TAKEN_BY_CHILD: 409,
    Reason.SERVER_QUOTA: 409,
    Reason.GPU_QUOTA: 409,
    Reason.GPU_MEMORY_QUOTA: 409,
    Reason.REPLICAS_PER_SERVER: 422,
    Reason.GPUS_PER_REPLICA: 422,
    Reason.CONTEXT_SIZE_LIMIT: 422,
    Reason.CONTEXT_ABOVE_MODEL: 422,
    Reason.PARALLEL_LIMIT: 422,
    Reason.THREADS_LIMIT: 422,
    Reason.BATCH_SIZE_LIMIT: 422,
}


@dataclass(frozen=True)
class Finding:
    code: Reason
    message: str
    scope: str  # user | namespace | request
    limit: int | list[str] | None = None
    requested: int | str | None = None


@dataclass(frozen=True)
class Decision:
    violations: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.violations

    @property
    def status_code(self) -> int:
        """The HTTP status a refusal maps to: 403 (not permitted) before 409 (quota) before
        422 (request out of range); 200 when allowed."""
        if not self.violations:
            return 200
        return min(STATUS_CODES.get(v.code, 403) for v in self.violations)

    @property
    def message(self) -> str:
        return "; ".join(f"{v.code}: {v.message}" for v in self.violations) or "allowed"


@dataclass(frozen=True)
class Account:
    """One side a request counts against: its effective limits and current usage, the
    usage not including the server being decided on."""

    scope: str
    subject: str
    limits: Limits
    usage: Usage = field(default_factory=Usage)


def image_allowed(image: str | None, patterns: Iterable[str] | None) -> bool:
    """None (the operator's official image) is always allowed; `*` matches any suffix."""
    if image is None or patterns is None:
        return True
    return any(fnmatchcase(image, p) if p.endswith("*") else image == p for p in patterns)


def _quota(
    account: Account,
    code: Reason,
    what: str,
    used: int,
    adding: int,
    limit: int | None,
    near_ratio: float,
) -> tuple[list[Finding], list[Finding]]:
    if limit is None or adding <= 0:
        return [], []
    total = used + adding
    label = f"{account.scope} {account.subject!r}"
    if total > limit:
        message = f"{label} would hold {total} {what} (in use {used}, limit {limit})"
        return [Finding(code, message, account.scope, limit, total)], []
    if limit > 0 and total >= near_ratio * limit:
        message = f"{label} will hold {total} of {limit} {what}"
        return [], [Finding(Reason.NEAR_QUOTA, message, account.scope, limit, total)]
    return [], []


def _quotas(
    account: Account, request: ServerRequest, near_ratio: float
) -> tuple[list[Finding], list[Finding]]:
    limits, usage = account.limits, account.usage
    running = 1 if request.replicas > 0 else 0
    checks = (
        (Reason.SERVER_QUOTA, "servers", usage.servers, running, limits.max_servers),
        (Reason.GPU_QUOTA, "GPUs", usage.gpus, request.gpus, limits.max_gpus),
        (
            Reason.GPU_MEMORY_QUOTA,
            "GiB of GPU memory",
            usage.gpu_memory_gib,
            request.gpu_memory_gib,
            limits.max_gpu_memory_gib,
        ),
    )
    violations: list[Finding] = []
    warnings: list[Finding] = []
    for code, what, used, adding, limit in checks:
        denied, near = _quota(account, code, what, used, adding, limit, near_ratio)
        violations += denied
        warnings += near
    return violations, warnings


def _rules(account: Account, request: ServerRequest) -> list[Finding]:
    """Per-server rules of one account's limits."""
    limits, scope = account.limits, account.scope
    label = f"{scope} {account.subject!r}"
    found: list[Finding] = []

    def over(code: Reason, value: int | None, limit: int | None, what: str) -> None:
        if value is not None and limit is not None and value > limit:
            message = f"{what} {value} is above the limit of {limit} for {label}"
            found.append(Finding(code, message, scope, limit, value))

    if limits.allowed_namespaces is not None and request.namespace not in limits.allowed_namespaces:
        found.append(
            Finding(
                Reason.NAMESPACE_NOT_ALLOWED,
                f"namespace {request.namespace!r} is not allowed for {label}",
                scope,
                sorted(limits.allowed_namespaces),
                request.namespace,
            )
        )
    over(Reason.REPLICAS_PER_SERVER, request.replicas, limits.max_replicas_per_server, "replicas")
    over(
        Reason.GPUS_PER_REPLICA,
        request.gpus_per_replica,
        limits.max_gpus_per_replica,
        "GPUs per replica",
    )
    products = limits.allowed_gpu_products
    if (
        request.gpus_per_replica > 0
        and products is not None
        and request.gpu_product not in products
    ):
        found.append(
            Finding(
                Reason.GPU_PRODUCT_NOT_ALLOWED,
                f"GPU product {request.gpu_product or '(any)'!r} is not allowed for {label}",
                scope,
                sorted(products),
                request.gpu_product,
            )
        )
    if not image_allowed(request.image, limits.allowed_images):
        found.append(
            Finding(
                Reason.IMAGE_NOT_ALLOWED,
                f"image {request.image!r} is not allowed for {label}",
                scope,
                sorted(limits.allowed_images or ()),
                request.image,
            )
        )
    over(Reason.CONTEXT_SIZE_LIMIT, request.context_size, limits.max_context_size, "context size")
    over(Reason.PARALLEL_LIMIT, request.parallel, limits.max_parallel, "parallel slots")
    over(Reason.THREADS_LIMIT, request.threads, limits.max_threads, "threads")
    over(Reason.BATCH_SIZE_LIMIT, request.batch_size, limits.max_batch_size, "batch size")
    return found


def _request_rules(
    request: ServerRequest, principal: Principal, model: ModelFacts
) -> list[Finding]:
    found: list[Finding] = []
    true_context = model.context_length
    if request.context_size is not None and true_context and request.context_size > true_context:
        found.append(
            Finding(
                Reason.CONTEXT_ABOVE_MODEL,
                f"context size {request.context_size} is above the model's own "
                f"{true_context} ({request.model_name})",
                "request",
                true_context,
                request.context_size,
            )
        )
    if not principal.is_admin:
        for flag in sorted(ADMIN_ONLY_FLAGS.intersection(request.flags)):
            found.append(
                Finding(Reason.ADMIN_ONLY_FLAG, f"{flag} is for admins only", "request", None, flag)
            )
    found += _model_rules(request, principal, model)
    found += _name_rules(request, principal, model)
    return found


def _refused_models(
    models: Iterable[ModelAccess], request: ServerRequest, principal: Principal
) -> list[ModelAccess]:
    return [
        m
        for m in models
        if not may_serve(m, principal.username, principal.is_admin, request.namespace)
    ]


def _model_rules(request: ServerRequest, principal: Principal, model: ModelFacts) -> list[Finding]:
    """Which registry models the principal may serve (see `inference_common.model_access`)."""
    found: list[Finding] = []
    who = principal.username or "this service account"
    for refused in _refused_models(model.models, request, principal):
        where = (
            f"shared with {', '.join(refused.shared_with)} only"
            if refused.visibility == "shared"
            else refused.visibility
        )
        found.append(
            Finding(
                Reason.MODEL_NOT_ALLOWED,
                f"model {refused.name!r} is {where}: not for {who} in namespace "
                f"{request.namespace!r}",
                "request",
                None,
                refused.name,
            )
        )
    return found


def _name_rules(request: ServerRequest, principal: Principal, model: ModelFacts) -> list[Finding]:
    """The names it would answer to at the gateway, and the children it would own."""
    found = [
        Finding(
            Reason.ALIAS_NOT_ALLOWED,
            f"alias {refused.name!r} names a model {principal.username or 'this service account'}"
            " may not serve",
            "request",
            None,
            refused.name,
        )
        for refused in _refused_models(model.alias_models, request, principal)
    ]
    claimed = {c.alias: c for c in model.alias_claims if c.owner != principal.username}
    for alias in request.aliases:
        claim = claimed.get(alias)
        if claim is not None:
            found.append(
                Finding(
                    Reason.ALIAS_TAKEN,
                    f"alias {alias!r} is claimed by {claim.namespace}/{claim.name} of "
                    f"{claim.owner or 'another owner'}",
                    "request",
                    None,
                    alias,
                )
            )
    for child in model.foreign_children:
        found.append(
            Finding(
                Reason.NAME_TAKEN_BY_CHILD,
                f"{child} exists in {request.namespace!r} and is not owned by a ModelServe: "
                "rename the ModelServe or remove it",
                "request",
                None,
                child,
            )
        )
    return found


def decide(
    request: ServerRequest,
    principal: Principal,
    accounts: Iterable[Account],
    model: ModelFacts | None = None,
    near_ratio: float = 0.9,
) -> Decision:
    """`accounts`: the owner's (absent for a service account) and the namespace's."""
    violations = _request_rules(request, principal, model or ModelFacts())
    warnings: list[Finding] = []
    for account in accounts:
        violations += _rules(account, request)
        denied, near = _quotas(account, request, near_ratio)
        violations += denied
        warnings += near
    return Decision(tuple(violations), tuple(warnings))
