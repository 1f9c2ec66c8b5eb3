"""The children of a ModelServe, as pure functions of its spec.

Per ModelServe named N with server uuid U:
- fetch slots 0 and 1 (s3 sources only; see fetchslots and fetchpod): ConfigMap
  `N-model-fetch-<digest>-<i>` (which URL window the slot holds) owning Secret
  `N-model-fetch-<digest>-<i>` (the presigned URL of the model for the init container);
- Deployment N: init container fetching + verifying the GGUF (fetchpod) into the model volume
  (modelvolume), llama.cpp server container;
- Service N: port `http` 8080 → the pods;
- Middleware `N-strip` (StripPrefix `/U`) and IngressRoute N (PathPrefix `/U/` on entry `web`);
  with a gateway authz URL set, Middleware `N-authz` (ForwardAuth to the gateway) before the strip;
- NetworkPolicy N (with peers configured): ingress to the pods' port only from those peers
  (routing).
Every child carries the same labels and a controller ownerReference to the ModelServe (a slot's
Secret: to its ConfigMap; see childmeta).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inference_common.gpus import GPU_MEMORY_LABEL, GPU_PRODUCT_LABEL, GPU_RESOURCE, min_memory_mib
from inference_common.llama_flags import runtime_args
from inference_common.modelserve import GROUP, LLAMA_PORT, ModelServeSpec
from modelserve_operator.childmeta import (
    CONTAINER_SECURITY,
    ManifestConfig,
    Owner,
    child_labels,
    child_metadata,
    selector_labels,
)
from modelserve_operator.fetchpod import fetch_container
from modelserve_operator.modelvolume import MODEL_DIR, MODEL_VOLUME, model_path, model_volume
from modelserve_operator.routing import authz_middleware, ingress_route, middleware, network_policy

MODEL_NAME_ANNOTATION = f"{GROUP}/model-name"
SERVER_CONTAINER = "llama-server"
RUN_AS = 65532
STARTUP_PROBE_SECONDS = 1800
"""How long a replica may take to load its model before liveness checks start."""


def server_image(spec: ModelServeSpec, config: ManifestConfig) -> str:
    if spec.image:
        return spec.image
    return config.llama_cuda_image if spec.gpu.count > 0 else config.llama_image


def server_args(spec: ModelServeSpec) -> list[str]:
    args = [
        "--model",
        model_path(spec),
        "--alias",
        spec.model.name,
        "--host",
        "0.0.0.0",  # noqa: S104 - the pod's own network namespace
        "--port",
        str(LLAMA_PORT),
    ]
    runtime = runtime_args(spec.runtime, spec.gpu.count)
    if "--metrics" not in runtime:
        args.append("--metrics")
    return args + runtime


def node_selector(spec: ModelServeSpec) -> dict[str, str]:
    selector = dict(spec.node_selector or {})
    if spec.gpu.product:
        selector[GPU_PRODUCT_LABEL] = spec.gpu.product
    return selector


def affinity(spec: ModelServeSpec) -> dict[str, Any] | None:
    if spec.gpu.min_memory_gib is None:
        return None
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": GPU_MEMORY_LABEL,
                                "operator": "Gt",
                                "values": [str(min_memory_mib(spec.gpu.min_memory_gib) - 1)],
                            }
                        ]
                    }
                ]
            }
        }
    }


def tolerations(spec: ModelServeSpec) -> list[dict[str, Any]]:
    out = [t.to_k8s() for t in spec.tolerations or []]
    if spec.gpu.count > 0:
        gpu = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
        if gpu not in out:
            out.append(gpu)
    return out


def server_resources(spec: ModelServeSpec) -> dict[str, Any]:
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if spec.resources is not None:
        if spec.resources.requests is not None:
            requests.update(spec.resources.requests.to_k8s())
        if spec.resources.limits is not None:
            limits.update(spec.resources.limits.to_k8s())
    if spec.gpu.count > 0:
        limits[GPU_RESOURCE] = str(spec.gpu.count)
        requests[GPU_RESOURCE] = str(spec.gpu.count)
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def rollout_strategy(spec: ModelServeSpec) -> dict[str, Any]:
    """GPU replicas replace in place (a surge pod would wait for GPUs that are all taken)."""
    if spec.gpu.count > 0:
        return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def deployment(owner: Owner, config: ManifestConfig) -> dict[str, Any]:
    spec = owner.spec
    server: dict[str, Any] = {
        "name": SERVER_CONTAINER,
        "image": server_image(spec, config),
        "args": server_args(spec),
        "ports": [{"name": "http", "containerPort": LLAMA_PORT, "protocol": "TCP"}],
        "startupProbe": _probe("/health", 5, STARTUP_PROBE_SECONDS // 5),
        "readinessProbe": _probe("/health", 5, 2),
        "livenessProbe": _probe("/health", 10, 6),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": MODEL_VOLUME, "mountPath": MODEL_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a private emptyDir
        ],
    }
    resources = server_resources(spec)
    if resources:
        server["resources"] = resources

    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [server],
        "volumes": [model_volume(spec, config.model_cache), {"name": "tmp", "emptyDir": {}}],
        "terminationGracePeriodSeconds": 30,
    }
    init = fetch_container(owner, config)
    if init is not None:
        pod_spec["initContainers"] = [init]
    selector = node_selector(spec)
    if selector:
        pod_spec["nodeSelector"] = selector
    node_affinity = affinity(spec)
    if node_affinity is not None:
        pod_spec["affinity"] = node_affinity
    tol = tolerations(spec)
    if tol:
        pod_spec["tolerations"] = tol

    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": child_metadata(owner, owner.name),
        "spec": {
            "replicas": spec.replicas,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": selector_labels(owner)},
            "strategy": rollout_strategy(spec),
            "template": {
                "metadata": {
                    "labels": child_labels(owner),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(LLAMA_PORT),
                        "prometheus.io/path": "/metrics",
                        MODEL_NAME_ANNOTATION: spec.model.name,
                    },
                },
                "spec": pod_spec,
            },
        },
    }


def service(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(owner, owner.name),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(owner),
            "ports": [
                {"name": "http", "port": LLAMA_PORT, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }


def children(owner: Owner, config: ManifestConfig) -> list[dict[str, Any]]:
    """Every child but the fetch slots (see fetchslots), in apply order (what the pods need
    comes before the pods)."""
    out: list[dict[str, Any]] = []
    policy = network_policy(owner, config)
    if policy is not None:
        out.append(policy)
    out += [service(owner), middleware(owner)]
    authz = authz_middleware(owner, config)
    if authz is not None:
        out.append(authz)
    out.append(ingress_route(owner, config))
    out.append(deployment(owner, config))
    return out


def is_subset(desired: Any, observed: Any) -> bool:
    """True when every field of `desired` has the same value in `observed` (server-added
    fields and defaults in `observed` are ignored; lists must match item by item)."""
    if isinstance(desired, Mapping):
        if not isinstance(observed, Mapping):
            return False
        return all(k in observed and is_subset(v, observed[k]) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(observed, list) or len(desired) != len(observed):
            return False
        return all(is_subset(d, o) for d, o in zip(desired, observed, strict=True))
    if isinstance(desired, bool) or isinstance(observed, bool):
        return desired is observed
    if isinstance(desired, int | float) and isinstance(observed, int | float):
        return desired == observed
    return bool(desired == observed) or str(desired) == str(observed)
