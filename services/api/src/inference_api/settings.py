"""The API's settings: `JwtSettings` plus auth, upload and serving knobs.

Outside dev mode a missing or default JWT secret or admin password stops start-up with a
message naming the variable.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from inference_api.client_address import parse_networks
from inference_common.settings import KNOWN_DEFAULT_SECRETS, JwtSettings, SettingsError

MIN_ADMIN_PASSWORD_LENGTH = 12
MAX_UPLOAD_PARTS = 10_000  # S3 multipart limit


class ApiSettings(JwtSettings):
    host: str = "127.0.0.1"
    port: int = Field(8200, ge=1, le=65535)

    jwt_ttl_minutes: int = Field(30, ge=1, le=24 * 60)
    admin_username: str = Field("admin", min_length=1, max_length=64)
    admin_password: SecretStr | None = None

    login_max_failures: int = Field(
        5, ge=1, description="Failed logins of an account before its back-off starts."
    )
    login_backoff_max_seconds: float = Field(300.0, gt=0, description="Longest back-off.")
    login_failures_forget_seconds: float = Field(
        900.0, gt=0, description="An account's failures are forgotten this long after the last."
    )
    login_max_attempts_per_address: int = Field(30, ge=1)
    login_window_seconds: float = Field(60.0, gt=0, description="Of the per-address limit.")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated CIDRs of proxies whose X-Forwarded-For is believed; "
        "empty: the socket peer is the client.",
    )

    max_request_body_bytes: int = Field(
        64 * 1024, ge=1024, description="413 above this size, for every body but an upload's."
    )
    max_upload_bytes: int = Field(64 * 1024**3, ge=1, description="413 above this size.")
    upload_max_seconds: float = Field(
        6 * 3600.0, gt=0, description="An upload that takes longer is abandoned (400)."
    )
    upload_idle_seconds: float = Field(
        120.0, gt=0, description="An upload that sends nothing for this long is abandoned."
    )
    upload_part_bytes: int = Field(
        8 * 1024**2, ge=5 * 1024**2, le=5 * 1024**3, description="S3 multipart part size."
    )
    upload_parallel_parts: int = Field(
        2, ge=1, le=8, description="Parts of one upload sent at once (memory: +1 part)."
    )
    max_gguf_header_bytes: int = Field(256 * 1024**2, ge=1024)

    servers_namespace: str = Field("inference", description="Namespace of new ModelServes.")
    allowed_namespaces: list[str] = Field(
        default_factory=lambda: ["default", "inference"],
        description="The contract service's global default allow-list (JSON list), for users "
        "without a list in their contract: who sees servers shared with a namespace.",
    )
    contract_url: str = Field(
        "http://127.0.0.1:8201",
        description="The contract service, which decides and counts every serve and scale.",
    )
    contract_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Longest wait on the contract service (then 503)."
    )
    serve_node_selector: dict[str, str] | None = Field(
        None, description="nodeSelector put on every new ModelServe (JSON object)."
    )
    serve_tolerations: list[dict[str, Any]] | None = Field(
        None, description="Tolerations put on every new ModelServe (JSON list)."
    )

    run_migrations: bool = Field(True, description="Upgrade the schema to head at start-up.")
    watch_modelserves: bool = Field(True, description="Mirror ModelServe status into Postgres.")
    health_timeout_seconds: float = Field(3.0, gt=0)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    prometheus_url: str | None = Field(
        None, description="Where GET /health/score reads its signals (http://host:port)."
    )
    prometheus_timeout_seconds: float = Field(3.0, gt=0)
    ttft_target_seconds: float = Field(2.5, gt=0, description="The TTFT p95 the score expects.")
    alert_webhook_token: SecretStr | None = Field(
        None, description="Bearer token of POST /alerts/webhook; unset, the receiver is off."
    )
    recent_alerts: int = Field(500, ge=1, le=100_000, description="Alerts GET /alerts keeps.")

    def secrets_to_check(self) -> dict[str, SecretStr]:
        checked = dict(super().secrets_to_check())
        checked["SERVER_UUID_KEY"] = self.server_uuid_key
        return checked

    @model_validator(mode="after")
    def _check_api_secrets(self) -> Self:
        if self.max_upload_bytes > self.upload_part_bytes * MAX_UPLOAD_PARTS:
            raise SettingsError(
                f"MAX_UPLOAD_BYTES needs more than {MAX_UPLOAD_PARTS} parts of "
                "UPLOAD_PART_BYTES (the S3 limit): raise UPLOAD_PART_BYTES"
            )
        if self.dev_mode:
            return self
        password = self.admin_password.get_secret_value() if self.admin_password else ""
        if not password:
            raise SettingsError(
                "ADMIN_PASSWORD must be set: it is the first admin's password "
                f"(user {self.admin_username!r}); refusing to start without it"
            )
        if password in KNOWN_DEFAULT_SECRETS or len(password) < MIN_ADMIN_PASSWORD_LENGTH:
            raise SettingsError(
                f"ADMIN_PASSWORD must be a non-default password of at least "
                f"{MIN_ADMIN_PASSWORD_LENGTH} characters"
            )
        return self
