"""What a decision is made on: the principal, the requested server, the model, as plain
values (no ORM rows, no HTTP), and how a ModelServe spec becomes one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from inference_common.llama_flags import extra_flags
from inference_common.model_access import ModelAccess, name_forms
from inference_common.modelserve import ALIASES_ANNOTATION, ModelServeSpec


@dataclass(frozen=True)
class Principal:
    """Who asks. `username` None: a Kubernetes service account, which acts for its
    namespace only (no user quota applies)."""

    username: str | None
    is_admin: bool = False


@dataclass(frozen=True)
class ServerRequest:
    """One server as it would run: replicas x GPUs per replica, and its runtime."""

    namespace: str
    name: str
    model_name: str
    replicas: int
    gpus_per_replica: int = 0
    gpu_product: str | None = None
    gpu_memory_gib_per_gpu: int = 0
    image: str | None = None
    context_size: int | None = None
    parallel: int | None = None
    threads: int | None = None
    batch_size: int | None = None
    flags: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    """The further names it claims at the gateway (the aliases annotation), in every form."""
    model_uuid: str | None = None
    model_sha256: str | None = None

    @property
    def gpus(self) -> int:
        return self.replicas * self.gpus_per_replica

    @property
    def gpu_memory_gib(self) -> int:
        return self.gpus * self.gpu_memory_gib_per_gpu


@dataclass(frozen=True)
class AliasClaim:
    """Another owner's server that answers to `alias` (its alias, name or model)."""

    alias: str
    owner: str | None
    namespace: str
    name: str


@dataclass(frozen=True)
class ModelFacts:
    """What the registry and the cluster say about a request: the model's true context length
    (None: unknown), the registry models it names (empty: none, e.g. a PVC file of its own),
    the registry models its aliases name, other owners' claims on its aliases, and children
    of its name the operator does not own."""

    context_length: int | None = None
    models: tuple[ModelAccess, ...] = ()
    alias_models: tuple[ModelAccess, ...] = ()
    alias_claims: tuple[AliasClaim, ...] = ()
    foreign_children: tuple[str, ...] = ()


def gpu_memory_per_card(
    spec: ModelServeSpec, product_memory: Mapping[str, int], default_gib: int
) -> int:
    """GiB one card of this spec counts for: minMemoryGiB, else the product's, else the default."""
    if spec.gpu.count == 0:
        return 0
    if spec.gpu.min_memory_gib is not None:
        return spec.gpu.min_memory_gib
    if spec.gpu.product is not None and spec.gpu.product in product_memory:
        return product_memory[spec.gpu.product]
    return default_gib


def aliases_of(annotations: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The aliases annotation's names (comma-separated), each in every form it answers to."""
    raw = (annotations or {}).get(ALIASES_ANNOTATION)
    if not isinstance(raw, str):
        return ()
    names = [a.strip() for a in raw.split(",") if a.strip()]
    return tuple(dict.fromkeys(form for name in names for form in name_forms(name)))


def _largest(values: Iterable[str | int | None]) -> int | None:
    numbers = [int(v) for v in values if v is not None]
    return max(numbers) if numbers else None


def server_request(
    namespace: str,
    name: str,
    spec: ModelServeSpec,
    product_memory: Mapping[str, int],
    default_gib: int,
    aliases: tuple[str, ...] = (),
) -> ServerRequest:
    runtime = spec.runtime
    flags = extra_flags(runtime.extra_args)
    return ServerRequest(
        namespace=namespace,
        name=name,
        model_name=spec.model.name,
        replicas=spec.replicas,
        gpus_per_replica=spec.gpu.count,
        gpu_product=spec.gpu.product,
        gpu_memory_gib_per_gpu=gpu_memory_per_card(spec, product_memory, default_gib),
        image=spec.image,
        context_size=runtime.context_size or None,
        parallel=runtime.parallel,
        threads=_largest((flags.get("--threads"), flags.get("--threads-batch"))),
        batch_size=_largest((runtime.batch_size, runtime.ubatch_size)),
        flags=tuple(a for a in runtime.extra_args if a.startswith("-")),
        aliases=aliases,
        model_uuid=spec.model.uuid,
        model_sha256=spec.model.sha256,
    )
