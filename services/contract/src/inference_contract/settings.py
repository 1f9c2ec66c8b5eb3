"""The contract service's settings: `JwtSettings` plus the webhook's TLS and the
global defaults every contract inherits where a field is null.

Outside dev mode a missing or short JWT secret stops start-up with a message naming it.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator

from inference_common.settings import (
    JwtSettings,
    NamespaceDefaults,
    RateLimitDefaults,
    SettingsError,
)

OFFICIAL_LLAMA_IMAGES = ("ghcr.io/ggml-org/llama.cpp:server", "ghcr.io/ggml-org/llama.cpp:server-*")


class ContractSettings(JwtSettings, NamespaceDefaults, RateLimitDefaults):
    host: str = "127.0.0.1"
    port: int = Field(8201, ge=1, le=65535)

    webhook_port: int | None = Field(
        8204, ge=1, le=65535, description="HTTPS port of the admission webhook (None: off)."
    )
    webhook_tls_cert_file: str | None = Field(None, description="PEM serving certificate.")
    webhook_tls_key_file: str | None = Field(None, description="PEM key of the certificate.")
    webhook_client_ca_file: str | None = Field(
        None, description="When set, the HTTPS listener requires a client certificate it signed."
    )
    admin_groups: list[str] = Field(
        default_factory=lambda: ["system:masters"],
        description="Kubernetes groups whose members act as platform admins in admission.",
    )
    exempt_users: list[str] = Field(
        default_factory=list,
        description="Kubernetes users admission always allows (the platform's operator).",
    )

    # Global per-user defaults (null in a user contract inherits these; None = no limit).
    max_servers: int | None = Field(10, ge=0)
    max_replicas: int | None = Field(5, ge=0, description="Replicas per server.")
    max_gpus: int | None = Field(8, ge=0)
    max_gpus_per_replica: int | None = Field(4, ge=0)
    max_gpu_memory_gib: int | None = Field(None, ge=0)
    max_storage_bytes: int | None = Field(None, ge=0)
    allowed_gpu_products: list[str] | None = Field(None, description="None: any product.")
    allowed_images: list[str] = Field(
        default_factory=lambda: list(OFFICIAL_LLAMA_IMAGES),
        description="Allowed spec.image values; a trailing * matches any suffix.",
    )
    max_context_size: int | None = Field(None, ge=1, description="None: the model's own.")
    max_parallel: int | None = Field(32, ge=1)
    max_threads: int | None = Field(
        32, ge=1, description="Caps --threads and --threads-batch (None: no cap)."
    )
    max_batch_size: int | None = Field(
        8192, ge=1, description="Caps --batch-size and --ubatch-size (None: no cap)."
    )

    # Global per-namespace defaults of the aggregate quotas (None = no namespace limit).
    namespace_max_servers: int | None = Field(None, ge=0)
    namespace_max_gpus: int | None = Field(None, ge=0)
    namespace_max_gpu_memory_gib: int | None = Field(None, ge=0)

    gpu_memory_gib: dict[str, int] = Field(
        default_factory=lambda: {"NVIDIA-GeForce-RTX-4090": 24, "NVIDIA-GeForce-RTX-3090": 24},
        description="GiB per card by nvidia.com/gpu.product (JSON), for GPU memory quotas.",
    )
    default_gpu_memory_gib: int = Field(
        24, ge=1, description="GiB per card when neither product nor minMemoryGiB tells."
    )
    near_quota_ratio: float = Field(0.9, gt=0, le=1, description="Warn at this share of a quota.")
    orphan_grace_seconds: float = Field(
        60.0, ge=0, description="A reservation this young survives a relist without its ModelServe."
    )
    watch_modelserves: bool = Field(True, description="Reconcile reservations from the cluster.")
    check_child_names: bool = Field(
        True,
        description="With the webhook on: list-watch Deployments, Services and IngressRoutes "
        "to refuse a ModelServe named like one the operator does not own.",
    )
    run_migrations: bool = Field(True, description="Upgrade the schema to head at start-up.")
    health_timeout_seconds: float = Field(3.0, gt=0)

    def secrets_to_check(self) -> dict[str, SecretStr]:
        return {"JWT_SECRET": self.jwt_secret}  # no S3 here

    @model_validator(mode="after")
    def _check_contract_settings(self) -> Self:
        if (self.webhook_tls_cert_file is None) != (self.webhook_tls_key_file is None):
            raise SettingsError(
                "set both WEBHOOK_TLS_CERT_FILE and WEBHOOK_TLS_KEY_FILE, or neither"
            )
        return self
