"""The whole path on the stack's local node, with no simulation: the operator's init container
fetches the embedded SmolLM2 GGUF from MinIO and verifies it, llama.cpp serves it, and Traefik
routes /<server-uuid>/ to it (StripPrefix), all from one ModelServe."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from minio import Minio
from minio.error import S3Error

from inference_common.s3 import ensure_bucket
from inference_common.settings import MODELS_BUCKET
from inference_localstack.embedded_model import REGISTRY_NAME, embedded_model_path
from inference_localstack.node.node_object import LOCAL_NODE_LABEL
from inference_testkit.waiting import wait_for

from .conftest import Cluster, OperatorProcess

pytestmark = pytest.mark.timeout(240)

TEST_KEY = "tests/operator/smollm2-135m-instruct-q4_1.gguf"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="session")
def model_object(s3: Minio) -> dict[str, Any]:
    """The embedded model in MinIO under a test key (uploaded once, kept as a cache)."""
    path = embedded_model_path()
    size = path.stat().st_size
    ensure_bucket(s3, MODELS_BUCKET)
    try:
        present = s3.stat_object(MODELS_BUCKET, TEST_KEY).size == size
    except S3Error:
        present = False
    if not present:
        s3.fput_object(MODELS_BUCKET, TEST_KEY, str(path))
    return {"bucket": MODELS_BUCKET, "key": TEST_KEY, "sha256": _sha256(path), "size": size}


def test_modelserve_on_the_local_node_answers_through_traefik(
    cluster: Cluster,
    operator: OperatorProcess,
    model_object: dict[str, Any],
    stack_env: dict[str, str],
) -> None:
    body = {
        "apiVersion": "inference-service.dev/v1alpha1",
        "kind": "ModelServe",
        "metadata": {"name": "local"},
        "spec": {
            "model": {
                "name": REGISTRY_NAME,
                "source": {"s3": {"bucket": model_object["bucket"], "key": model_object["key"]}},
                "sha256": model_object["sha256"],
                "sizeBytes": model_object["size"],
            },
            "runtime": {"contextSize": 512, "parallel": 1, "extraArgs": ["--threads", "1"]},
            "nodeSelector": {LOCAL_NODE_LABEL: "true"},
            "tolerations": [
                {"key": LOCAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}
            ],
        },
    }
    created = cluster.create(body)
    status = cluster.wait_phase("local", "Ready", timeout=180)
    assert status["readyReplicas"] == 1
    uid = created["metadata"]["uid"]
    assert status["endpoint"] == f"/{uid}/"

    base = stack_env["TRAEFIK_URL"].rstrip("/")

    def answers() -> httpx.Response | None:
        try:
            response = httpx.get(f"{base}/{uid}/v1/models", timeout=5)
        except httpx.HTTPError:
            return None
        return response if response.status_code == 200 else None

    response = wait_for(answers, timeout=30, what="the route through Traefik")
    names = [m.get("id") or m.get("name") for m in response.json().get("data", [])]
    assert REGISTRY_NAME in names
    # another server's prefix is not this one
    assert (
        httpx.get(f"{base}/00000000-0000-0000-0000-000000000000/health", timeout=5).status_code
        == 404
    )
