"""What a decision is made on: the principal, the requested server, the model, as plain
values (no ORM rows, no HTTP), and how a ModelServe spec becomes one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from inference_common.modelserve import ModelServeSpec


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
    flags: tuple[str, ...] = ()

    @property
    def gpus(self) -> int:
        return self.replicas * self.gpus_per_replica

    @property
    def gpu_memory_gib(self) -> int:
        return self.gpus * self.gpu_memory_gib_per_gpu


@dataclass(frozen=True)
class ModelFacts:
    """From the registry: the model's true context length (None: unknown)."""

    context_length: int | None = None


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


def server_request(
    namespace: str,
    name: str,
    spec: ModelServeSpec,
    product_memory: Mapping[str, int],
    default_gib: int,
) -> ServerRequest:
    runtime = spec.runtime
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
        flags=tuple(a for a in runtime.extra_args if a.startswith("-")),
    )
