"""The whole path on the stack's local node, with no simulation: the operator's init container
fetches the embedded SmolLM2 GGUF from MinIO and verifies it, llama.cpp serves it, and Traefik
routes /<server-uuid>/ to it (StripPrefix), all from one ModelServe. With a hostPath model
cache a second replica on the node reuses the verified file instead of downloading it."""

from __future__ import annotations

import hashlib
import secrets
import shutil
from collections.abc import Callable, Iterator
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


def _local_body(name: str, model_object: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "inference-service.dev/v1alpha1",
        "kind": "ModelServe",
        "metadata": {"name": name},
        "spec": {
            "model": {
                "name": REGISTRY_NAME,
                "source": {"s3": {"bucket": model_object["bucket"], "key": model_object["key"]}},
                "sha256": model_object["sha256"],
                "sizeBytes": model_object["size"],
            },
            "replicas": replicas,
            "runtime": {"contextSize": 512, "parallel": 1, "extraArgs": ["--threads", "1"]},
            "nodeSelector": {LOCAL_NODE_LABEL: "true"},
            "tolerations": [
                {"key": LOCAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}
            ],
        },
    }


def test_modelserve_on_the_local_node_answers_through_traefik(
    cluster: Cluster,
    operator: OperatorProcess,
    model_object: dict[str, Any],
    stack_env: dict[str, str],
) -> None:
    body = _local_body("local", model_object)
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


@pytest.fixture
def host_path(stack_env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """A hostPath of the test's own and the local node's directory behind it (the local
    kubelet maps hostPath volumes under its data directory)."""
    path = f"/var/lib/inference-service/test-models-{secrets.token_hex(4)}"
    node_dir = Path(stack_env["LOCAL_STATE_DIR"]) / "data" / "node" / "hostpath" / path[1:]
    yield path, node_dir
    shutil.rmtree(node_dir, ignore_errors=True)


def test_a_second_replica_reuses_the_hostpath_cache(
    cluster: Cluster,
    operator_factory: Callable[..., OperatorProcess],
    model_object: dict[str, Any],
    host_path: tuple[str, Path],
) -> None:
    path, node_dir = host_path
    operator_factory(MODEL_CACHE_TYPE="hostPath", MODEL_CACHE_HOST_PATH=path).start()
    cluster.create(_local_body("cached", model_object))
    cluster.wait_phase("cached", "Ready", timeout=180)
    deployment = cluster.deployment("cached")
    assert deployment is not None
    volume = deployment.spec.template.spec.volumes[0]
    assert (volume.name, volume.host_path.path, volume.host_path.type) == (
        "model",
        path,
        "Directory",
    )
    cached_file = node_dir / f"{model_object['sha256']}.gguf"
    assert _sha256(cached_file) == model_object["sha256"]
    first = cached_file.stat()
    (pod_before,) = _pods(cluster)

    cluster.patch_spec("cached", {"replicas": 2})
    status = wait_for(
        lambda: (s := cluster.status("cached")).get("readyReplicas") == 2 and s,
        timeout=180,
        what="two ready replicas",
    )
    assert status["phase"] == "Ready"
    (second,) = [pod for pod in _pods(cluster) if pod != pod_before]
    log = cluster.core.read_namespaced_pod_log(second, cluster.ns, container="model-fetch")
    assert "model cached" in log
    after = cached_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)


def _pods(cluster: Cluster) -> list[str]:
    listed = cluster.core.list_namespaced_pod(
        cluster.ns, label_selector="app.kubernetes.io/instance=cached"
    )
    return sorted(pod.metadata.name for pod in listed.items)
