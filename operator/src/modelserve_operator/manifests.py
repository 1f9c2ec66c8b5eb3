"""The children of a ModelServe, as pure functions of its spec.

Per ModelServe named N with server uuid U:
- fetch slots 0 and 1 (s3 sources only; see fetchslots): ConfigMap `N-model-fetch-<digest>-<i>`
  (which URL window the slot holds) owning Secret `N-model-fetch-<digest>-<i>` (the presigned
  URL of the model for the init container);
- Deployment N: init container fetching + verifying the GGUF, llama.cpp server container;
- Service N: port `http` 8080 → the pods;
- Middleware `N-strip` (StripPrefix `/U`) and IngressRoute N (PathPrefix `/U/` on entry `web`);
  with a gateway authz URL set, Middleware `N-authz` (ForwardAuth to the gateway) before the strip;
- NetworkPolicy N (with peers configured): ingress to the pods' port only from those peers.
Every child carries the same labels and a controller ownerReference to the ModelServe (a slot's
Secret: to its ConfigMap).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inference_common.gpus import GPU_MEMORY_LABEL, GPU_PRODUCT_LABEL, GPU_RESOURCE, min_memory_mib
from inference_common.llama_flags import runtime_args
from inference_common.modelserve import (
    API_VERSION,
    GROUP,
    KIND,
    LLAMA_PORT,
    MODELSERVE_LABEL,
    SERVER_UUID_LABEL,
    ModelServeSpec,
)
from inference_common.modelserve_base import MANAGED_BY_LABEL, MANAGED_BY_OPERATOR
from inference_common.server_identity import trusted_server_uuid

MODEL_NAME_ANNOTATION = f"{GROUP}/model-name"
TRAEFIK_API_VERSION = "traefik.io/v1alpha1"

MODEL_DIR = "/models"
SERVER_CONTAINER = "llama-server"
FETCH_CONTAINER = "model-fetch"
RUN_AS = 65532
STARTUP_PROBE_SECONDS = 1800
"""How long a replica may take to load its model before liveness checks start."""
FETCH_SLOTS = 2
MODEL_URL_KEY = "MODEL_URL"
WINDOW_KEY = "window"


@dataclass(frozen=True)
class Owner:
    """The ModelServe the children belong to."""

    name: str
    namespace: str
    uid: str
    server_uuid: str
    spec: ModelServeSpec


@dataclass(frozen=True)
class ManifestConfig:
    """Operator-wide inputs to the manifests (from OperatorSettings)."""

    llama_image: str
    llama_cuda_image: str
    fetch_image: str
    entry_point: str = "web"
    signer_digest: str = ""
    """`FetchUrlSigner.digest` (of the key the URLs are signed with): part of the fetch slots'
    names, so nobody can create an object of such a name ahead of the operator."""
    authz_url: str | None = None
    """The gateway as Traefik reaches it: each route asks `<authz_url>/authz/servers/<uuid>`
    (ForwardAuth) before a request goes through. None: routes without authentication."""
    network_policy_peers: tuple[dict[str, Any], ...] = ()
    """NetworkPolicy peers that may reach the pods' port (Traefik's and the gateway's pods);
    empty: no NetworkPolicy."""


@dataclass(frozen=True)
class FetchUrl:
    """A presigned GET URL of the model's object (a credential: it goes in a Secret only),
    signed at `signed` (its window's start) and valid until `expires`."""

    url: str
    signed: datetime
    expires: datetime


def owner_of(
    namespace: str,
    name: str,
    meta: Mapping[str, Any],
    spec: Mapping[str, Any],
    server_uuid_key: str,
) -> Owner:
    """The Owner of a ModelServe object; raises pydantic's ValidationError for a bad spec.
    Its server uuid is the API-issued one only when the API's signature checks out."""
    return Owner(
        name=name,
        namespace=namespace,
        uid=str(meta["uid"]),
        server_uuid=trusted_server_uuid(meta, server_uuid_key),
        spec=ModelServeSpec.model_validate(dict(spec)),
    )


def selector_labels(owner: Owner) -> dict[str, str]:
    """Pod selector of the Deployment and Service: stable for the ModelServe's life."""
    return {MODELSERVE_LABEL: owner.name}


def child_labels(owner: Owner) -> dict[str, str]:
    return {
        **selector_labels(owner),
        SERVER_UUID_LABEL: owner.server_uuid,
        MANAGED_BY_LABEL: MANAGED_BY_OPERATOR,
        "app.kubernetes.io/name": "llama-server",
        "app.kubernetes.io/instance": owner.name,
        "app.kubernetes.io/component": "model-server",
    }


def owner_reference(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(owner: Owner, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": child_labels(owner),
        "ownerReferences": [owner_reference(owner)],
    }


def fetch_slot_name(owner: Owner, config: ManifestConfig, slot: int) -> str:
    """`N-model-fetch-<digest>-<slot>`, the digest of the uid, the signing key and the object:
    stable while they are (the pod template names both slots, so renewing a URL rolls no pod),
    and new for a new model or key."""
    s3 = owner.spec.model.source.s3
    target = f"{s3.bucket}/{s3.key}" if s3 is not None else ""
    fields = f"{owner.uid}\0{config.signer_digest}\0{target}"
    digest = hashlib.sha256(fields.encode()).hexdigest()
    return f"{owner.name}-model-fetch-{digest[:10]}-{slot}"


def slot_env_prefix(slot: int) -> str:
    return f"SLOT{slot}_"


def middleware_name(owner: Owner) -> str:
    return f"{owner.name}-strip"


def authz_middleware_name(owner: Owner) -> str:
    return f"{owner.name}-authz"


AUTHZ_REQUEST_HEADERS = ["Authorization", "X-Api-Key"]
"""What ForwardAuth copies to the gateway besides Traefik's X-Forwarded-* headers."""


def model_path(spec: ModelServeSpec) -> str:
    """Where llama.cpp reads the GGUF inside the pod."""
    source = spec.model.source
    if source.pvc is not None:
        return f"{MODEL_DIR}/{source.pvc.path}"
    assert spec.model.sha256 is not None
    return f"{MODEL_DIR}/{spec.model.sha256}.gguf"


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


_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def fetch_container(owner: Owner, config: ManifestConfig) -> dict[str, Any] | None:
    """Init container: fetch from the object's presigned URL (s3) or verify in place (pvc
    with sha256). The URL comes from the fetch slots' Secrets (the newest valid one), never
    the command line; a slot may be absent while it is renewed."""
    model = owner.spec.model
    base = ["python", "-m", "inference_common.model_fetch"]
    container: dict[str, Any] = {
        "name": FETCH_CONTAINER,
        "image": config.fetch_image,
        "securityContext": _CONTAINER_SECURITY,
        "volumeMounts": [{"name": "model", "mountPath": MODEL_DIR}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"memory": "256Mi"},
        },
    }
    if model.source.s3 is not None:
        assert model.sha256 is not None
        prefixes = [f"--env-prefix={slot_env_prefix(slot)}" for slot in range(FETCH_SLOTS)]
        command = [
            *base,
            "url",
            *prefixes,
            "--sha256",
            model.sha256,
            "--dest",
            model_path(owner.spec),
        ]
        if model.size_bytes is not None:
            command += ["--size", str(model.size_bytes)]
        container["command"] = command
        container["envFrom"] = [
            {
                "prefix": slot_env_prefix(slot),
                "secretRef": {"name": fetch_slot_name(owner, config, slot), "optional": True},
            }
            for slot in range(FETCH_SLOTS)
        ]
        return container
    if model.sha256 is not None:
        container["command"] = [
            *base,
            "verify",
            "--path",
            model_path(owner.spec),
            "--sha256",
            model.sha256,
        ]
        container["volumeMounts"] = [{"name": "model", "mountPath": MODEL_DIR, "readOnly": True}]
        return container
    return None


def model_volume(spec: ModelServeSpec) -> dict[str, Any]:
    source = spec.model.source
    if source.pvc is not None:
        return {
            "name": "model",
            "persistentVolumeClaim": {"claimName": source.pvc.claim_name, "readOnly": True},
        }
    empty_dir: dict[str, Any] = {}
    if spec.model.size_bytes:
        # room for the file, its partial copy never coexists with it; 10 % + 64 MiB slack
        empty_dir["sizeLimit"] = str(int(spec.model.size_bytes * 1.1) + (64 << 20))
    return {"name": "model", "emptyDir": empty_dir}


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
        "securityContext": _CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": "model", "mountPath": MODEL_DIR, "readOnly": True},
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
        "volumes": [model_volume(spec), {"name": "tmp", "emptyDir": {}}],
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
        "metadata": _metadata(owner, owner.name),
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
        "metadata": _metadata(owner, owner.name),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(owner),
            "ports": [
                {"name": "http", "port": LLAMA_PORT, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }


def middleware(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": TRAEFIK_API_VERSION,
        "kind": "Middleware",
        "metadata": _metadata(owner, middleware_name(owner)),
        "spec": {"stripPrefix": {"prefixes": [f"/{owner.server_uuid}"]}},
    }


def authz_middleware(owner: Owner, config: ManifestConfig) -> dict[str, Any] | None:
    """ForwardAuth to the gateway, which lets through only callers that may use this
    server, and only to its inference endpoints."""
    if not config.authz_url:
        return None
    return {
        "apiVersion": TRAEFIK_API_VERSION,
        "kind": "Middleware",
        "metadata": _metadata(owner, authz_middleware_name(owner)),
        "spec": {
            "forwardAuth": {
                "address": f"{config.authz_url.rstrip('/')}/authz/servers/{owner.server_uuid}",
                "authRequestHeaders": AUTHZ_REQUEST_HEADERS,
            }
        },
    }


def route_middlewares(owner: Owner, config: ManifestConfig) -> list[dict[str, str]]:
    """Authorization first (it sees the path with the server's prefix), then the strip."""
    names = [authz_middleware_name(owner)] if config.authz_url else []
    return [{"name": n} for n in (*names, middleware_name(owner))]


def ingress_route(owner: Owner, config: ManifestConfig) -> dict[str, Any]:
    return {
        "apiVersion": TRAEFIK_API_VERSION,
        "kind": "IngressRoute",
        "metadata": _metadata(owner, owner.name),
        "spec": {
            "entryPoints": [config.entry_point],
            "routes": [
                {
                    "kind": "Rule",
                    "match": f"PathPrefix(`/{owner.server_uuid}/`)",
                    "middlewares": route_middlewares(owner, config),
                    "services": [{"name": owner.name, "port": LLAMA_PORT}],
                }
            ],
        },
    }


def network_policy(owner: Owner, config: ManifestConfig) -> dict[str, Any] | None:
    """Ingress to the model server's pods only from the configured peers, only to its port:
    no other pod reaches llama.cpp around Traefik's and the gateway's authentication."""
    if not config.network_policy_peers:
        return None
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(owner, owner.name),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(owner)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [dict(peer) for peer in config.network_policy_peers],
                    "ports": [{"protocol": "TCP", "port": LLAMA_PORT}],
                }
            ],
        },
    }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def fetch_holder(
    owner: Owner, config: ManifestConfig, slot: int, fetch: FetchUrl
) -> dict[str, Any]:
    """The ConfigMap of a fetch slot: which window's URL the slot holds (nothing secret). It
    owns the slot's Secret, so deleting it removes the Secret (see fetchslots)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(owner, fetch_slot_name(owner, config, slot)),
        "data": {WINDOW_KEY: _iso(fetch.signed), "expires": _iso(fetch.expires)},
    }


def fetch_secret(holder: Mapping[str, Any], fetch: FetchUrl) -> dict[str, Any]:
    """The Secret of a fetch slot: the URL, owned by the slot's ConfigMap as it exists."""
    meta = holder["metadata"]
    values = {MODEL_URL_KEY: fetch.url, f"{MODEL_URL_KEY}_EXPIRES": _iso(fetch.expires)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": dict(meta.get("labels") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
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
