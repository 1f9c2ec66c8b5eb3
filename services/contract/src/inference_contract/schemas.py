"""Request and response bodies of the REST API."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from inference_common.modelserve import ModelServeSpec
from inference_contract.limits import Limits, Usage
from inference_contract.policy import Decision, Finding

NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}$"

Namespace = Annotated[str, Field(min_length=1, max_length=63, pattern=NAMESPACE_PATTERN)]
ServerName = Annotated[str, Field(min_length=1, max_length=253, pattern=NAME_PATTERN)]
Username = Annotated[str, Field(min_length=1, max_length=64, pattern=USERNAME_PATTERN)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
RatePerMinute = Annotated[int, Field(ge=1, le=2**31 - 1)]
# no control characters: Postgres text refuses NUL, and none belongs in a product or an image
Names = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f\x7f]+$")]],
    Field(max_length=256),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NamespaceContractIn(_Body):
    """Any subset of the fields; an explicit null resets a field to the global default."""

    max_servers: Count | None = None
    max_replicas_per_server: Count | None = None
    max_gpus: Count | None = None
    max_gpus_per_replica: Count | None = None
    max_gpu_memory_gib: Count | None = None
    max_storage_bytes: Annotated[int, Field(ge=0, le=2**62)] | None = None
    allowed_gpu_products: Names | None = None
    allowed_images: Names | None = None
    max_context_size: Annotated[int, Field(ge=1, le=4_194_304)] | None = None
    max_parallel: Annotated[int, Field(ge=1, le=256)] | None = None
    max_threads: Annotated[int, Field(ge=1, le=256)] | None = Field(
        None, description="Caps --threads and --threads-batch."
    )
    max_batch_size: Annotated[int, Field(ge=1, le=65536)] | None = Field(
        None, description="Caps --batch-size and --ubatch-size."
    )


class UserContractIn(NamespaceContractIn):
    allowed_namespaces: Annotated[list[Namespace], Field(max_length=256)] | None = None
    requests_per_minute: RatePerMinute | None = Field(
        None, description="Requests per minute through the gateway (all the user's keys)."
    )
    tokens_per_minute: RatePerMinute | None = Field(
        None, description="Prompt + completion tokens per minute through the gateway."
    )
    concurrent_requests: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        None, description="Requests in flight per API key (a key may override it)."
    )


class LimitsOut(BaseModel):
    max_servers: int | None
    max_replicas_per_server: int | None
    max_gpus: int | None
    max_gpus_per_replica: int | None
    max_gpu_memory_gib: int | None
    max_storage_bytes: int | None
    allowed_namespaces: list[str] | None
    allowed_gpu_products: list[str] | None
    allowed_images: list[str] | None
    max_context_size: int | None
    max_parallel: int | None
    max_threads: int | None
    max_batch_size: int | None
    requests_per_minute: int | None
    tokens_per_minute: int | None
    concurrent_requests: int | None

    @classmethod
    def of(cls, limits: Limits) -> LimitsOut:
        values: dict[str, Any] = {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in vars(limits).items()
        }
        return cls(**values)


class ContractOut(BaseModel):
    subject: str
    contract: dict[str, Any] = Field(description="The stored fields; null inherits.")
    effective: LimitsOut = Field(description="What applies: stored fields over the defaults.")


class UsedOut(BaseModel):
    used: int
    limit: int | None


class RateUsageOut(BaseModel):
    """The gateway's current counting window (all its replicas, as last flushed, ~1 s)."""

    window_seconds: float
    requests: UsedOut = Field(description="Requests so far; limit scaled to the window.")
    tokens: UsedOut = Field(description="Prompt + completion tokens so far.")


class UsageOut(BaseModel):
    subject: str
    servers: UsedOut
    gpus: UsedOut
    gpu_memory_gib: UsedOut
    storage_bytes: UsedOut
    replicas: int
    rate: RateUsageOut | None = Field(None, description="Users only.")

    @classmethod
    def of(
        cls, subject: str, usage: Usage, limits: Limits, rate: RateUsageOut | None = None
    ) -> UsageOut:
        return cls(
            rate=rate,
            subject=subject,
            servers=UsedOut(used=usage.servers, limit=limits.max_servers),
            gpus=UsedOut(used=usage.gpus, limit=limits.max_gpus),
            gpu_memory_gib=UsedOut(used=usage.gpu_memory_gib, limit=limits.max_gpu_memory_gib),
            storage_bytes=UsedOut(used=usage.storage_bytes, limit=limits.max_storage_bytes),
            replicas=usage.replicas,
        )


class PrincipalIn(_Body):
    username: Username | None = Field(None, description="None: a namespace's service account.")
    is_admin: bool = False


class ServeIn(_Body):
    namespace: Namespace
    name: ServerName
    spec: ModelServeSpec
    principal: PrincipalIn | None = Field(
        None, description="Whom it is for (admins only; others are always themselves)."
    )


class ReserveIn(ServeIn):
    server_uuid: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class ResizeIn(_Body):
    namespace: Namespace
    name: ServerName
    replicas: Annotated[int, Field(ge=0, le=64)]


class FindingOut(BaseModel):
    code: str
    message: str
    scope: str
    limit: int | list[str] | None = None
    requested: int | str | None = None

    @classmethod
    def of(cls, finding: Finding) -> FindingOut:
        return cls(
            code=finding.code.value,
            message=finding.message,
            scope=finding.scope,
            limit=finding.limit,
            requested=finding.requested,
        )


class DecisionOut(BaseModel):
    allowed: bool
    status_code: int = Field(description="200, or what a refusal maps to: 403, 409 or 422.")
    message: str
    violations: list[FindingOut]
    warnings: list[FindingOut]

    @classmethod
    def of(cls, decision: Decision) -> DecisionOut:
        return cls(
            allowed=decision.allowed,
            status_code=decision.status_code,
            message=decision.message,
            violations=[FindingOut.of(v) for v in decision.violations],
            warnings=[FindingOut.of(w) for w in decision.warnings],
        )


class ReservationOut(BaseModel):
    namespace: str
    name: str
    server_uuid: str | None
    owner: str | None
    model_name: str
    replicas: int
    gpus_per_replica: int
    gpu_memory_gib_per_gpu: int
    gpu_product: str | None
    source: str

    model_config = ConfigDict(from_attributes=True)


class ReservedOut(BaseModel):
    decision: DecisionOut
    reservation: ReservationOut


class HealthOut(BaseModel):
    status: str
    checks: dict[str, str]
