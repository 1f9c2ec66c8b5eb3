"""Effective limits: a contract's fields where set, the global defaults where null.

`None` as an effective quota means "no limit"; as an allow-list it means "anything".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from inference_contract.settings import ContractSettings

QUOTA_FIELDS = ("max_servers", "max_gpus", "max_gpu_memory_gib", "max_storage_bytes")
RATE_FIELDS = ("requests_per_minute", "tokens_per_minute", "concurrent_requests")
USER_ONLY_FIELDS = ("allowed_namespaces", *RATE_FIELDS)


@dataclass(frozen=True)
class Limits:
    max_servers: int | None = None
    max_replicas_per_server: int | None = None
    max_gpus: int | None = None
    max_gpus_per_replica: int | None = None
    max_gpu_memory_gib: int | None = None
    max_storage_bytes: int | None = None
    allowed_namespaces: tuple[str, ...] | None = None
    allowed_gpu_products: tuple[str, ...] | None = None
    allowed_images: tuple[str, ...] | None = None
    max_context_size: int | None = None
    max_parallel: int | None = None
    max_threads: int | None = None
    max_batch_size: int | None = None
    # enforced by the gateway, users only
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    concurrent_requests: int | None = None


LIMIT_FIELDS = tuple(f.name for f in fields(Limits))


@dataclass(frozen=True)
class Usage:
    """What an owner or a namespace holds now (servers with replicas > 0 count)."""

    servers: int = 0
    replicas: int = 0
    gpus: int = 0
    gpu_memory_gib: int = 0
    storage_bytes: int = 0


def _tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def user_defaults(settings: ContractSettings) -> Limits:
    return Limits(
        max_servers=settings.max_servers,
        max_replicas_per_server=settings.max_replicas,
        max_gpus=settings.max_gpus,
        max_gpus_per_replica=settings.max_gpus_per_replica,
        max_gpu_memory_gib=settings.max_gpu_memory_gib,
        max_storage_bytes=settings.max_storage_bytes,
        allowed_namespaces=tuple(settings.allowed_namespaces),
        allowed_gpu_products=_tuple(settings.allowed_gpu_products),
        allowed_images=tuple(settings.allowed_images),
        max_context_size=settings.max_context_size,
        max_parallel=settings.max_parallel,
        max_threads=settings.max_threads,
        max_batch_size=settings.max_batch_size,
        requests_per_minute=settings.rate_limit_requests_per_minute,
        tokens_per_minute=settings.rate_limit_tokens_per_minute,
        concurrent_requests=settings.rate_limit_concurrent_requests,
    )


def namespace_defaults(settings: ContractSettings) -> Limits:
    """A namespace inherits the per-server rules; its aggregate quotas have their own
    defaults (NAMESPACE_MAX_*, unlimited unless set) and it has no namespace allow-list
    and no rate limits."""
    return replace(
        user_defaults(settings),
        max_servers=settings.namespace_max_servers,
        max_gpus=settings.namespace_max_gpus,
        max_gpu_memory_gib=settings.namespace_max_gpu_memory_gib,
        max_storage_bytes=None,
        allowed_namespaces=None,
        requests_per_minute=None,
        tokens_per_minute=None,
        concurrent_requests=None,
    )


def effective(contract: Mapping[str, Any] | None, defaults: Limits) -> Limits:
    """Each field of `contract` that is set (not None) overrides the default."""
    if not contract:
        return defaults
    overrides: dict[str, Any] = {}
    for name in LIMIT_FIELDS:
        value = contract.get(name)
        if value is not None:
            overrides[name] = tuple(value) if isinstance(value, list | tuple) else value
    return replace(defaults, **overrides)
