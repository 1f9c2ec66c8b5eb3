"""How pod-spec containers map onto local processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inference_localstack.node.plan import (
    UnsupportedContainerError,
    gpu_count,
    image_repository,
    plan_container,
    referenced_objects,
    resolve_env,
    translate_path,
)

VOLUMES = {"model": Path("/cache/models"), "tmp": Path("/pods/u1/volumes/tmp")}
PY = "/venv/bin/python"


@pytest.mark.parametrize(
    ("image", "repo"),
    [
        ("ghcr.io/ggml-org/llama.cpp:server", "ghcr.io/ggml-org/llama.cpp"),
        ("ghcr.io/ggml-org/llama.cpp:server-cuda", "ghcr.io/ggml-org/llama.cpp"),
        ("ghcr.io/ggml-org/llama.cpp@sha256:abc", "ghcr.io/ggml-org/llama.cpp"),
        ("localhost:5000/llama.cpp", "localhost:5000/llama.cpp"),
    ],
)
def test_image_repository(image: str, repo: str) -> None:
    assert image_repository(image) == repo


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/models/x.gguf", "/cache/models/x.gguf"),
        ("/models", "/cache/models"),
        ("/modelsx/y", "/modelsx/y"),
        ("--port", "--port"),
        ("/tmp/a", "/pods/u1/volumes/tmp/a"),
    ],
)
def test_translate_path(value: str, expected: str) -> None:
    mounts = [("/models", VOLUMES["model"]), ("/tmp", VOLUMES["tmp"])]
    assert translate_path(value, mounts) == expected


LLAMA = {
    "name": "server",
    "image": "ghcr.io/ggml-org/llama.cpp:server-cuda",
    "args": ["-m", "/models/abc.gguf", "--host", "0.0.0.0", "--port", "8080"],
    "volumeMounts": [{"name": "model", "mountPath": "/models", "readOnly": True}],
}
FETCH = {
    "name": "fetch",
    "image": "inference-service/modelserve-operator:0.1.0",
    "command": ["python", "-m", "inference_common.model_fetch", "s3", "--dest", "/models/abc.gguf"],
    "volumeMounts": [{"name": "model", "mountPath": "/models"}],
}


@pytest.mark.parametrize(
    ("container", "argv", "in_pod"),
    [
        (
            LLAMA,
            (
                PY,
                "-m",
                "inference_localstack.llama_server",
                "-m",
                "/cache/models/abc.gguf",
                "--host",
                "0.0.0.0",
                "--port",
                "8080",
            ),
            True,
        ),
        (
            FETCH,
            (PY, "-m", "inference_common.model_fetch", "s3", "--dest", "/cache/models/abc.gguf"),
            False,
        ),
    ],
)
def test_runnable_containers(
    container: dict[str, Any], argv: tuple[str, ...], in_pod: bool
) -> None:
    plan = plan_container(container, VOLUMES, {"S3_ENDPOINT": "127.0.0.1:9000"}, PY)
    assert plan.argv == argv
    assert plan.in_pod_network is in_pod
    assert plan.env == {"S3_ENDPOINT": "127.0.0.1:9000"}


@pytest.mark.parametrize(
    ("container", "message"),
    [
        ({"name": "x", "image": "nginx:1"}, "cannot run on the local node"),
        ({"name": "x", "image": "busybox", "command": ["python", "-m", "os"]}, "not allowed"),
        (
            {"name": "x", "image": "ghcr.io/ggml-org/llama.cpp:server", "command": ["/bin/sh"]},
            "runs only llama-server",
        ),
        ({**LLAMA, "volumeMounts": [{"name": "data", "mountPath": "/data"}]}, "volume 'data'"),
    ],
)
def test_other_containers_are_refused_with_a_reason(
    container: dict[str, Any], message: str
) -> None:
    with pytest.raises(UnsupportedContainerError, match=message):
        plan_container(container, VOLUMES, {}, PY)


def test_environment_resolution() -> None:
    container = {
        "envFrom": [
            {"secretRef": {"name": "s3"}},
            {"configMapRef": {"name": "opt", "optional": True}},
        ],
        "env": [
            {"name": "A", "value": "1"},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s3", "key": "S3_SECRET_KEY"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        ],
    }
    secrets = {"s3": {"S3_SECRET_KEY": "k", "S3_ENDPOINT": "e"}}
    env = resolve_env(container, secrets, {}, {"status.podIP": "10.244.0.9"})
    assert env == {"S3_SECRET_KEY": "k", "S3_ENDPOINT": "e", "A": "1", "B": "k", "IP": "10.244.0.9"}
    assert referenced_objects([container]) == ({"s3"}, {"opt"})
    with pytest.raises(UnsupportedContainerError, match="secret 's3' not found"):
        resolve_env(container, {}, {}, {})


@pytest.mark.parametrize(
    ("limits", "count"), [({}, 0), ({"nvidia.com/gpu": "2"}, 2), ({"cpu": "1"}, 0)]
)
def test_gpu_count(limits: dict[str, str], count: int) -> None:
    assert gpu_count({"resources": {"limits": limits}}) == count
