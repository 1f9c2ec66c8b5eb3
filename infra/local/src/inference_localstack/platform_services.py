"""The platform's own services on the local stack: the operator, the API and the gateway,
started from the workspace's console scripts with the stack's settings, and the embedded
default model registered through the API."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx
from minio import Minio
from pydantic import SecretStr

from inference_common.s3 import minio_client
from inference_common.settings import MODELS_BUCKET, CommonSettings
from inference_localstack import embedded_model
from inference_localstack.components import Component
from inference_localstack.config import StackConfig
from inference_localstack.node.node_object import LOCAL_NODE_LABEL
from inference_localstack.pki import Secrets

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
    }


def object_store(cfg: StackConfig, creds: Secrets) -> Minio:
    """A MinIO client with the stack's root credentials, built the platform's one way."""
    return minio_client(
        CommonSettings(
            dev_mode=True,
            s3_endpoint=f"127.0.0.1:{cfg.ports.minio}",
            s3_access_key=creds.minio_user,
            s3_secret_key=SecretStr(creds.minio_password),
        )
    )


def service_env(
    cfg: StackConfig, creds: Secrets, database_url: str, identity: str
) -> dict[str, str]:
    """What every platform service gets: dev mode, the stores, the JWT secret, and a
    kubeconfig of its own least-privilege identity (see pki.IDENTITIES)."""
    return {
        "KUBECONFIG": str(cfg.pki_dir / f"{identity}.kubeconfig"),
        "DEV_MODE": "true",
        "DATABASE_URL": database_url,
        "S3_ENDPOINT": f"127.0.0.1:{cfg.ports.minio}",
        "S3_ACCESS_KEY": creds.minio_user,
        "S3_SECRET_KEY": creds.minio_password,
        "S3_SECURE": "false",
        "JWT_SECRET": creds.jwt_secret,
    }


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
            # only pods that really run here are sent traffic, never kwok's simulated ones
            "GATEWAY_UPSTREAM_CIDRS": cfg.network.local_pod_cidr,
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
                params={"name": embedded_model.REGISTRY_NAME},
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
