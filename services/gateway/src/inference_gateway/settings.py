"""The gateway's settings (environment variables, e.g. JWT_SECRET, GATEWAY_ALLOW_ANONYMOUS)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from inference_common.settings import CommonSettings, NamespaceDefaults, RateLimitDefaults

ReasoningMode = Literal["separate", "inline"]


class GatewaySettings(CommonSettings, NamespaceDefaults, RateLimitDefaults):
    jwt_secret: SecretStr = SecretStr("")
    host: str = Field("127.0.0.1", validation_alias="GATEWAY_HOST")
    port: int = Field(8203, validation_alias="GATEWAY_PORT")
    allow_anonymous: bool = Field(
        False,
        validation_alias="GATEWAY_ALLOW_ANONYMOUS",
        description="Serve requests without credentials. Off unless explicitly enabled.",
    )
    watch_namespace: str | None = Field(
        None,
        validation_alias="GATEWAY_WATCH_NAMESPACE",
        description="Namespace whose ModelServes are routed; unset = all namespaces.",
    )
    upstream_cidrs: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="GATEWAY_UPSTREAM_CIDRS",
        description="Networks replicas may be in (e.g. the pod range of real nodes); "
        "endpoints elsewhere are ignored. Empty = any.",
    )
    reasoning: ReasoningMode = Field(
        "separate",
        validation_alias="GATEWAY_REASONING",
        description="Default handling of <think> output for OpenAI/Anthropic: moved to "
        "reasoning fields (separate) or kept in the text (inline).",
    )
    retry_after_seconds: int = Field(5, validation_alias="GATEWAY_RETRY_AFTER_SECONDS")
    connect_timeout: float = Field(5.0, validation_alias="GATEWAY_CONNECT_TIMEOUT")
    read_timeout: float = Field(600.0, validation_alias="GATEWAY_READ_TIMEOUT")
    max_connections: int = Field(1024, validation_alias="GATEWAY_MAX_CONNECTIONS")
    auth_cache_seconds: float = Field(10.0, validation_alias="GATEWAY_AUTH_CACHE_SECONDS")
    max_body_bytes: int = Field(16 * 1024 * 1024, validation_alias="GATEWAY_MAX_BODY_BYTES")
    rate_limits: bool = Field(
        True,
        validation_alias="GATEWAY_RATE_LIMITS",
        description="Enforce the contracts' rate limits (needs DATABASE_URL).",
    )
    metrics: bool = Field(
        True,
        validation_alias="GATEWAY_METRICS",
        description="Keep Prometheus metrics and serve GET /metrics; off: neither (no "
        "series are updated on the request path).",
    )
    rate_sync_seconds: float = Field(
        1.0,
        gt=0,
        validation_alias="GATEWAY_RATE_SYNC_SECONDS",
        description="How often each replica flushes its counts and reads the shared totals.",
    )

    @field_validator("upstream_cidrs", mode="before")
    @classmethod
    def _split_cidrs(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("upstream_cidrs")
    @classmethod
    def _valid_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)
        return value

    def secrets_to_check(self) -> dict[str, SecretStr]:
        return {"JWT_SECRET": self.jwt_secret}  # the gateway holds no object-store key
