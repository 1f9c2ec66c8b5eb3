"""Settings every service shares. Each service subclasses `CommonSettings` once.

Values come from the environment (the names of `.local/env`, e.g. DATABASE_URL). Secrets
have no usable default: outside dev mode a missing or known-default secret stops start-up.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from inference_common.auth import TokenSigner

MODELS_BUCKET = "inference-models"
QUANT_BUCKET = "llm-models"
MIN_JWT_SECRET_LENGTH = 32

KNOWN_DEFAULT_SECRETS = frozenset(
    {"", "admin", "password", "changeme", "secret", "minioadmin", "postgres"}
)


class SettingsError(ValueError):
    """A setting is missing or unsafe; the message names it."""


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    dev_mode: bool = Field(
        False, description="Allows generated dev credentials; never in production."
    )
    log_level: str = "INFO"
    database_url: str = Field(
        "postgresql+asyncpg://localhost/inference",
        description="SQLAlchemy URL, asyncpg driver.",
    )
    s3_endpoint: str = Field("127.0.0.1:9000", description="host:port of the S3 (MinIO) server.")
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_secure: bool = False
    models_bucket: str = MODELS_BUCKET
    kubeconfig: str | None = Field(None, description="Path; unset means in-cluster config.")
    server_uuid_key: SecretStr = Field(
        SecretStr(""),
        description="SERVER_UUID_KEY: HMAC key the API signs the server uuids it issues with and "
        "the operator checks them with (see inference_common.server_identity); the same value "
        "for both. Required by both outside dev mode.",
    )
    jwt_issuer: str = Field(
        "inference-service", min_length=1, description="`iss` of the API's tokens, required."
    )
    jwt_audience: str = Field(
        "inference-service", min_length=1, description="`aud` of the API's tokens, required."
    )

    def secrets_to_check(self) -> dict[str, SecretStr]:
        """Secrets that must not be empty or a well-known default outside dev mode."""
        return {"S3_SECRET_KEY": self.s3_secret_key}

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Self:
        if self.dev_mode:
            return self
        weak = [
            name
            for name, value in self.secrets_to_check().items()
            if value.get_secret_value() in KNOWN_DEFAULT_SECRETS
        ]
        if weak:
            raise SettingsError(
                f"{', '.join(sorted(weak))} must be set to a non-default value "
                "(or set DEV_MODE=true for local development)"
            )
        return self


class NamespaceDefaults(BaseSettings):
    """The contract service's global namespace allow-list (`ALLOWED_NAMESPACES`): where a
    user without a contract field of their own may serve. Read alike by the services that
    need it (the contract service decides with it; the API lists the models and servers shared
    with those namespaces; the gateway lets team members use namespace-visible servers)."""

    allowed_namespaces: list[str] = Field(
        default_factory=lambda: ["default", "inference"],
        description="ALLOWED_NAMESPACES (JSON list): a user contract's null allow-list.",
    )


class RateLimitDefaults(BaseSettings):
    """The global rate limits a user contract's null fields inherit: the contract service
    reports them, the gateway enforces them (both read the same variables). None = no limit."""

    rate_limit_requests_per_minute: int | None = Field(
        None, ge=1, description="RATE_LIMIT_REQUESTS_PER_MINUTE: per user (and per key)."
    )
    rate_limit_tokens_per_minute: int | None = Field(
        None, ge=1, description="RATE_LIMIT_TOKENS_PER_MINUTE: prompt + completion, per user."
    )
    rate_limit_concurrent_requests: int | None = Field(
        None, ge=1, description="RATE_LIMIT_CONCURRENT_REQUESTS: in flight per API key."
    )
    rate_limit_window_seconds: float = Field(
        60.0,
        gt=0,
        description="RATE_LIMIT_WINDOW_SECONDS: length of a counting window; per-minute "
        "limits are scaled to it (tests use short windows).",
    )


class JwtSettings(CommonSettings):
    """Settings of a service that issues or verifies the API's JWTs (one secret for all).

    Outside dev mode a secret shorter than MIN_JWT_SECRET_LENGTH stops start-up; in dev mode
    an unset one is generated, so tokens last as long as the process."""

    jwt_secret: SecretStr = SecretStr("")

    def secrets_to_check(self) -> dict[str, SecretStr]:
        return {**super().secrets_to_check(), "JWT_SECRET": self.jwt_secret}

    def token_signer(self, ttl: timedelta | None = None) -> TokenSigner:
        """The API's signer: this secret, issuer and audience (`ttl`: of issued tokens)."""
        lifetime = {"ttl": ttl} if ttl is not None else {}
        return TokenSigner(
            self.jwt_secret.get_secret_value(),
            issuer=self.jwt_issuer,
            audience=self.jwt_audience,
            **lifetime,
        )

    @model_validator(mode="after")
    def _check_jwt_secret(self) -> Self:
        if self.dev_mode:
            if not self.jwt_secret.get_secret_value():
                self.jwt_secret = SecretStr(secrets.token_urlsafe(48))
            return self
        if len(self.jwt_secret.get_secret_value()) < MIN_JWT_SECRET_LENGTH:
            raise SettingsError(
                f"JWT_SECRET must be at least {MIN_JWT_SECRET_LENGTH} characters, the same "
                "in every service (or set DEV_MODE=true for local development)"
            )
        return self
