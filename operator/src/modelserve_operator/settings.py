"""The operator's settings, from the environment (one pydantic-settings class)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, SecretStr, model_validator

from inference_common.settings import CommonSettings
from modelserve_operator.modelvolume import CacheType, ModelCache

DEFAULT_LLAMA_IMAGE = "ghcr.io/ggml-org/llama.cpp:server"
DEFAULT_LLAMA_CUDA_IMAGE = "ghcr.io/ggml-org/llama.cpp:server-cuda"
DEFAULT_FETCH_IMAGE = "inference-service/modelserve-operator:0.1.0"
DEFAULT_NETWORK_POLICY_PEERS: list[dict[str, Any]] = [
    {
        "namespaceSelector": {},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
    }
    for name in ("traefik", "inference-gateway")
]


class OperatorSettings(CommonSettings):
    """S3_* (from CommonSettings): the key the operator signs the init containers' GET URLs
    with — give it a key that may only read the models bucket's objects; the pods never see
    it. KUBECONFIG unset → in-cluster config."""

    namespaces: list[str] = Field(
        default_factory=list,
        description="OPERATOR_NAMESPACES: JSON list of namespaces to serve; empty = all.",
        validation_alias="OPERATOR_NAMESPACES",
    )
    llama_image: str = Field(DEFAULT_LLAMA_IMAGE, description="llama.cpp server image (CPU).")
    llama_cuda_image: str = Field(
        DEFAULT_LLAMA_CUDA_IMAGE, description="llama.cpp server image when GPUs are requested."
    )
    model_fetch_image: str = Field(
        DEFAULT_FETCH_IMAGE,
        description="Image with inference_common installed; runs the model-fetch init container.",
    )
    model_fetch_s3_endpoint: str | None = Field(
        None, description="S3 endpoint as pods reach it; defaults to S3_ENDPOINT."
    )
    model_fetch_s3_region: str = Field(
        "us-east-1", description="Region the URLs are signed for (MinIO's default)."
    )
    model_url_ttl_seconds: int = Field(
        12 * 3600,
        ge=20,
        le=7 * 24 * 3600,
        description="MODEL_URL_TTL_SECONDS: lifetime of the init containers' presigned URLs "
        "(S3 allows at most 7 days); a new one is signed at half-life.",
    )
    traefik_entry_point: str = Field("web", description="Traefik entry point of the routes.")
    gateway_authz_url: str | None = Field(
        None,
        description="GATEWAY_AUTHZ_URL: the gateway as Traefik reaches it (e.g. "
        "http://127.0.0.1:8203); every route then asks its /authz/servers/<uuid> before a "
        "request reaches a model server. Unset: routes without authentication.",
    )
    network_policy_peers: list[dict[str, Any]] = Field(
        default_factory=lambda: [dict(p) for p in DEFAULT_NETWORK_POLICY_PEERS],
        description="NETWORK_POLICY_PEERS: JSON list of NetworkPolicy peers allowed to reach "
        "model-server pods (default: pods labelled app.kubernetes.io/name traefik or "
        "inference-gateway, any namespace); [] = no NetworkPolicy.",
    )
    max_workers: int = Field(16, ge=1, le=256, description="Threads running sync handlers.")
    liveness_port: int | None = Field(
        None, ge=1, le=65535, description="Serve kopf's /healthz on this port when set."
    )
    liveness_host: str = Field(
        "0.0.0.0",  # noqa: S104 - a probe endpoint for the kubelet; 127.0.0.1 locally
        description="Address of the /healthz endpoint.",
    )

    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="METRICS_PORT: serve GET /metrics on this port when set."
    )
    metrics_host: str = Field(
        "0.0.0.0",  # noqa: S104 - scraped by Prometheus in the cluster; 127.0.0.1 locally
        description="METRICS_HOST: address of the /metrics endpoint.",
    )

    model_cache_type: CacheType = Field(
        "none",
        description="MODEL_CACHE_TYPE: where s3-sourced models are kept — none (an emptyDir "
        "per pod), hostPath (MODEL_CACHE_HOST_PATH on each node) or pvc (MODEL_CACHE_CLAIM in "
        "the ModelServe's namespace); with a cache, replicas and restarts reuse a verified file.",
    )
    model_cache_host_path: str = Field(
        "/var/lib/inference-service/models",
        description="MODEL_CACHE_HOST_PATH: the node directory of the hostPath cache; it must "
        "exist and be writable by UID 65532.",
    )
    model_cache_claim: str = Field(
        "", description="MODEL_CACHE_CLAIM: the PersistentVolumeClaim of the pvc cache."
    )

    @model_validator(mode="after")
    def _model_cache_complete(self) -> OperatorSettings:
        self.model_cache  # noqa: B018 - raises ValueError for an incomplete cache setting
        return self

    def secrets_to_check(self) -> dict[str, SecretStr]:
        return {**super().secrets_to_check(), "SERVER_UUID_KEY": self.server_uuid_key}

    @property
    def model_cache(self) -> ModelCache:
        return ModelCache(
            type=self.model_cache_type,
            host_path=self.model_cache_host_path,
            claim=self.model_cache_claim,
        )

    @property
    def fetch_s3_endpoint(self) -> str:
        return self.model_fetch_s3_endpoint or self.s3_endpoint


def namespace_patterns(given: Sequence[str]) -> list[str]:
    """kopf serves a namespace matching ANY listed pattern, so ["*", "!opt-*"] would serve
    everything; a list with exclusions is meant as one pattern read left to right
    ("*,!opt-*"). Lists of plain names or inclusive globs stay as they are."""
    if any(p.strip().startswith("!") for p in given):
        return [",".join(p.strip() for p in given)]
    return list(given)
