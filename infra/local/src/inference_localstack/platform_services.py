"""The platform's own services on the local stack: the operator, the API, the gateway and
the download service,
started from the workspace's console scripts with the stack's settings, and the embedded
default model registered through the API."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
from minio import Minio
from pydantic import SecretStr

from inference_common.kube import api_client
from inference_common.modelserve_base import MANAGED_BY_LABEL, MANAGED_BY_OPERATOR
from inference_common.s3 import minio_client
from inference_common.settings import MODELS_BUCKET, CommonSettings
from inference_localstack import embedded_model, object_store_users, quant_cluster
from inference_localstack.components import Component
from inference_localstack.config import StackConfig
from inference_localstack.node.node_object import LOCAL_NODE_LABEL
from inference_localstack.object_store_users import ScopedUser
from inference_localstack.pki import CONTRACT_WEBHOOK_CERT, IDENTITIES, Secrets

SERVERS_NAMESPACE = "inference"
EXAMPLE_OBJECT_KEY = "smollm2-135m-instruct-q4_1.gguf"
"""Where `examples/modelserve-smollm2.yaml` finds the embedded model (a server-side copy of
the registered object, whose own key is made from its uuid)."""
ADMIN_USERNAME = "admin"
OPERATOR_RBAC = Path(__file__).resolve().parents[4] / "deploy" / "operator" / "rbac.yaml"


def _script(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def service_urls(cfg: StackConfig) -> dict[str, str]:
    return {
        "API_URL": f"http://127.0.0.1:{cfg.ports.api}",
        "GATEWAY_URL": f"http://127.0.0.1:{cfg.ports.gateway}",
        "CONTRACT_URL": f"http://127.0.0.1:{cfg.ports.contract}",
        "DOWNLOAD_URL": f"http://127.0.0.1:{cfg.ports.download}",
    }


def object_store(cfg: StackConfig, creds: Secrets) -> Minio:
    """A MinIO client with the stack's root credentials, built the platform's one way."""
    return minio_client(
        CommonSettings(
            dev_mode=True,
            s3_endpoint=minio_endpoint(cfg),
            s3_access_key=creds.minio_user,
            s3_secret_key=SecretStr(creds.minio_password),
        )
    )


def minio_endpoint(cfg: StackConfig) -> str:
    return f"127.0.0.1:{cfg.ports.minio}"


def scoped_users(creds: Secrets) -> dict[str, ScopedUser]:
    """The object-store user of each service that has one (the gateway has none)."""
    return {
        "operator": object_store_users.operator_user(creds.minio_operator_password, MODELS_BUCKET),
        "api": object_store_users.api_user(creds.minio_api_password, MODELS_BUCKET),
    }


def ensure_scoped_users(cfg: StackConfig, creds: Secrets) -> None:
    admin = object_store_users.admin_client(
        minio_endpoint(cfg), creds.minio_user, creds.minio_password
    )
    for user in scoped_users(creds).values():
        object_store_users.ensure_user(admin, user)


def s3_env(cfg: StackConfig, user: ScopedUser) -> dict[str, str]:
    return {
        "S3_ENDPOINT": minio_endpoint(cfg),
        "S3_ACCESS_KEY": user.access_key,
        "S3_SECRET_KEY": user.secret_key,
        "S3_SECURE": "false",
    }


def service_env(
    cfg: StackConfig, creds: Secrets, database_url: str, identity: str
) -> dict[str, str]:
    """What every platform service gets: dev mode, the database, the JWT secret, a kubeconfig
    of its own least-privilege identity (see pki.IDENTITIES) and, when it uses the object
    store, its own scoped MinIO user (never the root user)."""
    env = {
        "KUBECONFIG": str(cfg.pki_dir / f"{identity}.kubeconfig"),
        "DEV_MODE": "true",
        "DATABASE_URL": database_url,
        "JWT_SECRET": creds.jwt_secret,
    }
    user = scoped_users(creds).get(identity)
    if user is not None:
        env.update(s3_env(cfg, user))
    return env


LEGACY_FETCH_KEYS = frozenset({"S3_ACCESS_KEY", "S3_SECRET_KEY"})


def legacy_fetch_secrets(secrets: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(namespace, name) of the fetch Secrets older operators wrote: they held the object
    store's key (today's hold a presigned URL of one object)."""
    found = []
    for secret in secrets:
        meta = secret.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) != MANAGED_BY_OPERATOR:
            continue
        if "-model-fetch-" in str(meta.get("name")) and LEGACY_FETCH_KEYS & set(
            secret.get("data") or {}
        ):
            found.append((str(meta.get("namespace")), str(meta.get("name"))))
    return found


def remove_legacy_fetch_secrets(cfg: StackConfig, namespace: str | None = None) -> int:
    """Deletes the fetch Secrets that still hold an object-store key (in one namespace, or
    all); returns how many. Pods already running keep their environment; new pods use the
    operator's fetch slots."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    with api_client(str(cfg.kubeconfig)) as kube:
        core = client.CoreV1Api(kube)
        selector = f"{MANAGED_BY_LABEL}={MANAGED_BY_OPERATOR}"
        listed = (
            core.list_namespaced_secret(namespace, label_selector=selector)
            if namespace
            else core.list_secret_for_all_namespaces(label_selector=selector)
        )
        items = [kube.sanitize_for_serialization(item) for item in listed.items]
        legacy = legacy_fetch_secrets(items)
        for ns, name in legacy:
            try:
                core.delete_namespaced_secret(name, ns)
            except ApiException as exc:
                if exc.status != 404:
                    raise
    return len(legacy)


def local_placement() -> dict[str, str]:
    """New servers land on the node that really runs them here (see the local kubelet)."""
    return {
        "SERVE_NODE_SELECTOR": json.dumps({LOCAL_NODE_LABEL: "true"}),
        "SERVE_TOLERATIONS": json.dumps(
            [{"key": LOCAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}]
        ),
    }


def operator(cfg: StackConfig, creds: Secrets, database_url: str) -> Component:
    return Component(
        "operator",
        [_script("modelserve-operator")],
        f"http://127.0.0.1:{cfg.ports.operator}/healthz",
        env={
            **service_env(cfg, creds, database_url, "operator"),
            "SERVER_UUID_KEY": creds.server_uuid_key,
            "LIVENESS_PORT": str(cfg.ports.operator),
            # the operator's own tests run private operators in `opt-*` namespaces
            "OPERATOR_NAMESPACES": json.dumps(["*", "!opt-*"]),
            "LIVENESS_HOST": "127.0.0.1",
            "METRICS_PORT": str(cfg.ports.operator_metrics),
            "METRICS_HOST": "127.0.0.1",
            # Traefik (on this host) asks the gateway before a request reaches a model server
            "GATEWAY_AUTHZ_URL": f"http://127.0.0.1:{cfg.ports.gateway}",
        },
    )


def contract_webhook_url(cfg: StackConfig) -> str:
    return f"https://127.0.0.1:{cfg.ports.contract_webhook}/admission/modelserves"


def contract(cfg: StackConfig, creds: Secrets, database_url: str) -> Component:
    """REST on `contract`; the admission webhook over HTTPS on `contract_webhook` (healthy
    means both listen and the first ModelServe list is counted)."""
    pki = cfg.pki_dir
    return Component(
        "contract",
        [_script("inference-contract")],
        f"https://127.0.0.1:{cfg.ports.contract_webhook}/health",
        verify_tls=True,
        env={
            **service_env(cfg, creds, database_url, "contract"),
            "HOST": "127.0.0.1",
            "PORT": str(cfg.ports.contract),
            "WEBHOOK_PORT": str(cfg.ports.contract_webhook),
            "WEBHOOK_TLS_CERT_FILE": str(pki / f"{CONTRACT_WEBHOOK_CERT}.crt"),
            "WEBHOOK_TLS_KEY_FILE": str(pki / f"{CONTRACT_WEBHOOK_CERT}.key"),
            # the operator only adds finalizers and status, but it must never be refused
            "EXEMPT_USERS": json.dumps([IDENTITIES["operator"][0]]),
        },
    )


def api(cfg: StackConfig, creds: Secrets, database_url: str) -> Component:
    return Component(
        "api",
        [_script("inference-api")],
        f"http://127.0.0.1:{cfg.ports.api}/health",
        env={
            **service_env(cfg, creds, database_url, "api"),
            **local_placement(),
            "HOST": "127.0.0.1",
            "PORT": str(cfg.ports.api),
            "ADMIN_USERNAME": ADMIN_USERNAME,
            "ADMIN_PASSWORD": creds.admin_password,
            "SERVER_UUID_KEY": creds.server_uuid_key,
            "SERVERS_NAMESPACE": SERVERS_NAMESPACE,
            "CONTRACT_URL": service_urls(cfg)["CONTRACT_URL"],
            "PROMETHEUS_URL": f"http://127.0.0.1:{cfg.ports.prometheus}",
            "ALERT_WEBHOOK_TOKEN": creds.alert_webhook_token,
        },
    )


def gateway(cfg: StackConfig, creds: Secrets, database_url: str) -> Component:
    return Component(
        "gateway",
        [_script("inference-gateway")],
        f"http://127.0.0.1:{cfg.ports.gateway}/readyz",
        env={
            **service_env(cfg, creds, database_url, "gateway"),
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(cfg.ports.gateway),
            # to trust the owner and visibility the API signs on its ModelServes
            "SERVER_UUID_KEY": creds.server_uuid_key,
            # only pods that really run here are sent traffic, never kwok's simulated ones
            "GATEWAY_UPSTREAM_CIDRS": cfg.network.local_pod_cidr,
        },
    )


def download(cfg: StackConfig, creds: Secrets, database_url: str) -> Component:
    """The download service: copies models from the quantization cluster's store (the
    second MinIO) into ours. It needs no Kubernetes identity."""
    env = service_env(cfg, creds, database_url, "api")
    del env["KUBECONFIG"]
    return Component(
        "download",
        [_script("inference-download")],
        f"http://127.0.0.1:{cfg.ports.download}/health",
        env={
            **env,
            **quant_cluster.env_values(cfg, creds),
            "HOST": "127.0.0.1",
            "PORT": str(cfg.ports.download),
            "RUN_MIGRATIONS": "false",  # the API upgrades the schema; it starts first
        },
    )


def ensure_example_object(cfg: StackConfig, creds: Secrets, object_key: str) -> None:
    from minio.commonconfig import CopySource
    from minio.error import S3Error

    s3 = object_store(cfg, creds)
    try:
        s3.stat_object(MODELS_BUCKET, EXAMPLE_OBJECT_KEY)
    except S3Error as exc:
        if exc.code != "NoSuchKey":
            raise
        s3.copy_object(MODELS_BUCKET, EXAMPLE_OBJECT_KEY, CopySource(MODELS_BUCKET, object_key))


def register_embedded_model(cfg: StackConfig, creds: Secrets) -> str:
    """Uploads the embedded model as `smollm2:135m` unless it is registered; returns its uuid."""
    base = service_urls(cfg)["API_URL"]
    with httpx.Client(base_url=base, timeout=120) as http:
        token = (
            http.post(
                "/auth/token", json={"username": ADMIN_USERNAME, "password": creds.admin_password}
            )
            .raise_for_status()
            .json()["access_token"]
        )
        headers = {"Authorization": f"Bearer {token}"}
        models = (
            http.get("/models", headers=headers, params={"limit": 1000}).raise_for_status().json()
        )
        for model in models:
            if model["name"] == embedded_model.REGISTRY_NAME:
                detail = http.get(f"/models/{model['uuid']}", headers=headers).raise_for_status()
                ensure_example_object(cfg, creds, detail.json()["object_key"])
                return str(model["uuid"])
        path = embedded_model.embedded_model_path()
        started = time.monotonic()
        with path.open("rb") as f:
            response = http.post(
                "/models",
                # every user may serve the default model (uploads are private otherwise)
                params={"name": embedded_model.REGISTRY_NAME, "visibility": "public"},
                headers={
                    **headers,
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(path.stat().st_size),
                },
                content=iter(lambda: f.read(1 << 20), b""),
            )
        if response.status_code == 409:  # the same file is registered (maybe under another name)
            conflict = response.json()["error"].get("detail") or {}
            if "model_uuid" not in conflict:
                response.raise_for_status()
            existing = http.get(f"/models/{conflict['model_uuid']}", headers=headers)
            ensure_example_object(cfg, creds, existing.raise_for_status().json()["object_key"])
            return str(conflict["model_uuid"])
        response.raise_for_status()
        ensure_example_object(cfg, creds, response.json()["object_key"])
        elapsed = time.monotonic() - started
        print(
            f"[stack] registered {embedded_model.REGISTRY_NAME} in {elapsed:.1f}s", file=sys.stderr
        )
        return str(response.json()["uuid"])
