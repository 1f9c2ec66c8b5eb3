"""Request and response bodies of the REST API (the documented shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from inference_common.llama_flags import MAX_RUNTIME_PARAMS_LENGTH
from inference_common.modelserve import (
    MAX_REPLICAS,
    GpuCount,
    GpuMemoryGiB,
    GpuProduct,
    ModelName,
)

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"

Role = Literal["admin", "user"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Visibility = Literal["private", "namespace", "public"]
ModelVisibility = Literal["private", "shared", "public"]
SharedWith = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=63, pattern=NAMESPACE_PATTERN)]],
    Field(max_length=64),
]


# --- auth -----------------------------------------------------------------------------------


class LoginRequest(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  (the OAuth2 token type)


# --- users ----------------------------------------------------------------------------------


class UserCreate(_Body):
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=12, max_length=1024)
    role: Role = "user"


class UserUpdate(_Body):
    disabled: bool = Field(description="Disabled users cannot log in; tokens and keys refused.")


class PasswordChange(_Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=12, max_length=1024)


class PasswordReset(_Body):
    new_password: str = Field(min_length=12, max_length=1024)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    username: str
    role: str
    is_active: bool
    disabled_at: datetime | None
    password_changed_at: datetime | None
    created_at: datetime


# --- API keys -------------------------------------------------------------------------------


class ApiKeyCreate(_Body):
    name: str = Field(min_length=1, max_length=128)
    allowed_models: list[str] | None = Field(
        None,
        max_length=256,
        description="Model names this key may call; null means every model.",
    )
    expires_in_days: int | None = Field(
        None, ge=1, le=3650, description="Refused after this many days; null: never expires."
    )
    requests_per_minute: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="This key's own request rate (on top of the owner's contract); null: none.",
    )
    tokens_per_minute: int | None = Field(
        None,
        ge=1,
        le=2**62,
        description="This key's own prompt + completion tokens per minute; null: none.",
    )
    concurrent_requests: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="Requests in flight with this key; null: the owner's contract.",
    )

    def rate_limits(self) -> dict[str, int | None]:
        return {
            "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
            "concurrent_requests": self.concurrent_requests,
        }


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    prefix: str
    allowed_models: list[str] | None
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    concurrent_requests: int | None = None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself; shown only in this response.")


# --- models ---------------------------------------------------------------------------------


class ModelOut(BaseModel):
    uuid: UUID
    name: str
    size_bytes: int
    sha256: str
    architecture: str | None
    context_length: int | None
    parameter_count: int | None
    file_type: str | None
    tokenizer: str | None
    vocab_size: int | None
    source: str
    state: str
    owner_id: UUID | None
    visibility: ModelVisibility = Field(
        description="Who may serve it: `private` (owner and admins), `shared` (also in the "
        "namespaces of `shared_with`) or `public` (anyone)."
    )
    shared_with: list[str] = Field(description="Namespaces a `shared` model may be served in.")
    created_at: datetime


class ModelUpdate(_Body):
    """`PATCH /models/{uuid}`: who may serve the model (owner or admin)."""

    visibility: ModelVisibility
    shared_with: SharedWith = Field(
        default_factory=list, description="Required (non-empty) for `shared`, empty otherwise."
    )

    @model_validator(mode="after")
    def _namespaces_for_shared(self) -> ModelUpdate:
        if (self.visibility == "shared") != bool(self.shared_with):
            raise ValueError("shared_with lists the namespaces of a `shared` model, and only then")
        self.shared_with = sorted(set(self.shared_with))
        return self


class ModelDetail(ModelOut):
    object_key: str = Field(description="Key of the file in the models bucket (for ModelServes).")
    chat_template: str | None
    metadata: dict[str, Any]


# --- serving --------------------------------------------------------------------------------


class GpuRequest(_Body):
    count: GpuCount = 0
    product: GpuProduct | None = None
    min_memory_gib: GpuMemoryGiB | None = None


class ServeRequest(_Body):
    model_uuid: UUID | None = None
    model_name: ModelName | None = None
    replicas: int = Field(1, ge=1, le=MAX_REPLICAS)
    runtime_params: str = Field(
        "", max_length=MAX_RUNTIME_PARAMS_LENGTH, description='llama.cpp flags, e.g. "-c 2048"'
    )
    gpu: GpuRequest = Field(default_factory=GpuRequest)
    namespace: str | None = Field(None, pattern=NAMESPACE_PATTERN)
    visibility: Visibility = Field(
        "private",
        description="Who may use the server through the gateway and Traefik: `private` (you "
        "and admins), `namespace` (also every user allowed to serve in its namespace: the "
        "contract service's allowed_namespaces) or `public` (every authenticated caller).",
    )

    @model_validator(mode="after")
    def _one_model(self) -> ServeRequest:
        if self.model_uuid is None and self.model_name is None:
            raise ValueError("give model_uuid or model_name")
        return self


class ServerUpdate(_Body):
    """What `PATCH /servers/{uuid}` may change; at least one field."""

    replicas: int | None = Field(
        None, ge=0, le=MAX_REPLICAS, description="0 keeps the server, idle."
    )
    visibility: Visibility | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> ServerUpdate:
        if self.replicas is None and self.visibility is None:
            raise ValueError("nothing to change: send replicas, visibility or both")
        return self


class ServeResponse(BaseModel):
    server_uuid: UUID
    endpoint: str
    name: str
    namespace: str
    phase: str
    warnings: list[str] = Field(
        default_factory=list, description='From the contract service, e.g. "near_quota: …".'
    )


class ServerOut(BaseModel):
    server_uuid: UUID
    name: str
    namespace: str
    model_uuid: UUID | None
    model_name: str
    owner_id: UUID | None
    replicas: int
    ready_replicas: int
    phase: str
    reasons: list[str]
    endpoint: str
    runtime: dict[str, Any]
    gpu: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    stopped_at: datetime | None
    visibility: Visibility


# --- health ---------------------------------------------------------------------------------


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]


# --- observability --------------------------------------------------------------------------


class WebhookAlert(BaseModel):
    """One alert of Alertmanager's webhook payload (version 4); unknown fields are ignored."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None  # noqa: N815  (Alertmanager's field names)
    endsAt: datetime | None = None  # noqa: N815
    fingerprint: str = ""


class AlertmanagerWebhook(BaseModel):
    version: str = "4"
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[WebhookAlert] = Field(max_length=1000)


class AlertOut(BaseModel):
    received_at: datetime
    status: Literal["firing", "resolved"]
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None


class ReasonOut(BaseModel):
    signal: str
    penalty: float
    message: str


class ServerScoreOut(BaseModel):
    server_uuid: str
    model: str
    score: int = Field(ge=0, le=100)
    reasons: list[ReasonOut]


class HealthScoreOut(BaseModel):
    score: int = Field(ge=0, le=100)
    reasons: list[ReasonOut]
    servers: list[ServerScoreOut]
