"""The contract webhook as `kubectl` users meet it: the toolchain's real kubectl, acting as a
test user (`--as`, impersonated by the stack's admin), against the REAL shared apiserver with
the webhook registered for this test's labelled namespaces only. Every rule is refused with
its code in kubectl's error and allowed within its limit; a near-full quota prints a
`Warning:` line; `kubectl scale` beyond the GPU quota is refused."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client

from inference_testkit.waiting import wait_for

from .conftest import OpenWebhookRig
from .test_webhook import _label_and_grant, _modelserve, webhook_configuration

KUBECTL = (
    Path(
        os.environ.get(
            "INFERENCE_TOOLCHAIN_CACHE", Path.home() / ".cache/inference-service/toolchain"
        )
    )
    / "bin"
    / "kubectl"
)
GPU = "NVIDIA-GeForce-RTX-4090"
CONTRACT = {
    "max_servers": 3,
    "max_gpus": 3,
    "max_replicas_per_server": 2,
    "max_gpus_per_replica": 2,
    "allowed_gpu_products": [GPU],
    "max_context_size": 4096,
    "max_parallel": 8,
    "max_threads": 4,
    "max_batch_size": 1024,
}

# rule -> (refused spec, allowed spec): each differs from the other in that rule only
RULES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "image_not_allowed": (
        {"image": "docker.io/someone/llama:latest"},
        {"image": "ghcr.io/ggml-org/llama.cpp:server-cuda"},
    ),
    "admin_only_flag": (
        {"runtime": {"extraArgs": ["--mlock"]}},
        {"runtime": {"extraArgs": ["--temp", "0.5"]}},
    ),
    "replicas_per_server_exceeded": ({"replicas": 3}, {"replicas": 2}),
    "gpus_per_replica_exceeded": (
        {"gpu": {"count": 3, "product": GPU}},
        {"gpu": {"count": 2, "product": GPU}},
    ),
    "gpu_product_not_allowed": (
        {"gpu": {"count": 1, "product": "NVIDIA-GeForce-RTX-3090"}},
        {"gpu": {"count": 1, "product": GPU}},
    ),
    "context_size_exceeded": (
        {"runtime": {"contextSize": 8192}},
        {"runtime": {"contextSize": 4096}},
    ),
    "parallel_exceeded": ({"runtime": {"parallel": 9}}, {"runtime": {"parallel": 8}}),
    "threads_exceeded": (
        {"runtime": {"extraArgs": ["--threads-batch", "5"]}},
        {"runtime": {"extraArgs": ["--threads", "4"]}},
    ),
    "batch_size_exceeded": ({"runtime": {"ubatchSize": 2048}}, {"runtime": {"batchSize": 1024}}),
}


class Kubectl:
    def __init__(self, kubeconfig: str, user: str) -> None:
        self.base = [str(KUBECTL), f"--kubeconfig={kubeconfig}", f"--as={user}"]

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.base, *args], input=stdin, capture_output=True, text=True, timeout=60
        )

    def apply(
        self, namespace: str, body: dict[str, Any], dry_run: bool = False
    ) -> subprocess.CompletedProcess[str]:
        extra = ["--dry-run=server"] if dry_run else []
        return self.run("apply", "-n", namespace, *extra, "-f", "-", stdin=yaml.safe_dump(body))


def _gpus_used(url: str, user: str, admin: dict[str, str]) -> int:
    return int(httpx.get(f"{url}/usage/users/{user}", headers=admin).json()["gpus"]["used"])


def _refused(result: subprocess.CompletedProcess[str], code: str) -> None:
    """kubectl prints a 403 / 409 refusal as `admission webhook "…" denied the request:
    contract: <code>: …` and a 422 one as `The request is invalid: spec: contract: <code>: …`."""
    assert result.returncode != 0, result.stdout
    error = result.stderr
    assert (
        "admission webhook" in error and f"denied the request: contract: {code}: " in error
    ) or f"The request is invalid: spec: contract: {code}: " in error, error


@pytest.mark.skipif(not KUBECTL.exists(), reason="the toolchain's kubectl is not built")
def test_kubectl_meets_every_rule_warnings_and_scale(
    open_webhook_rig: OpenWebhookRig, kube_api: client.ApiClient, stack_env: dict[str, str]
) -> None:
    with open_webhook_rig("opt-kc") as rig:
        _label_and_grant(kube_api, rig.namespace, rig.token, rig.user)
        _label_and_grant(
            kube_api, rig.elsewhere, rig.token, rig.user
        )  # decided here too, not allowed
        response = httpx.put(
            f"{rig.url}/contracts/users/{rig.user}",
            json={**CONTRACT, "allowed_namespaces": [rig.namespace]},
            headers=rig.admin,
        )
        assert response.status_code == 200, response.text
        kubectl = Kubectl(stack_env["KUBECONFIG"], rig.user)
        with webhook_configuration(kube_api, rig.webhook, rig.ca_pem, rig.token):
            _refused(kubectl.apply(rig.elsewhere, _modelserve("ns")), "namespace_not_allowed")
            for rule, (refused, allowed) in RULES.items():
                _refused(kubectl.apply(rig.namespace, _modelserve("r", **refused)), rule)
                ok = kubectl.apply(rig.namespace, _modelserve("r", **allowed), True)
                assert ok.returncode == 0, (rule, ok.stderr)

            # quotas: a dry run holds nothing; the third server (3 of 3) warns; a fourth is
            # refused; scaling beyond the GPU quota is refused, within it allowed
            for name in ("s1", "s2"):  # a GPU each (of 3)
                created = kubectl.apply(
                    rig.namespace, _modelserve(name, gpu={"count": 1, "product": GPU})
                )
                assert created.returncode == 0, created.stderr
                assert "Warning:" not in created.stderr
            third = kubectl.apply(rig.namespace, _modelserve("s3"))
            assert third.returncode == 0, third.stderr
            warning = [line for line in third.stderr.splitlines() if line.startswith("Warning:")]
            assert warning, third.stderr
            assert "near_quota" in warning[0]
            _refused(kubectl.apply(rig.namespace, _modelserve("s4")), "server_quota_exceeded")

            scaled = kubectl.run("scale", "-n", rig.namespace, "modelserve/s1", "--replicas=3")
            _refused(scaled, "replicas_per_server_exceeded")
            scaled = kubectl.run("scale", "-n", rig.namespace, "modelserve/s2", "--replicas=2")
            assert scaled.returncode == 0, scaled.stderr  # 2 + 1 GPUs: the limit exactly
            scaled = kubectl.run("scale", "-n", rig.namespace, "modelserve/s1", "--replicas=2")
            _refused(scaled, "gpu_quota_exceeded")  # would be 2 + 2 GPUs

            usage = httpx.get(f"{rig.url}/usage/users/{rig.user}", headers=rig.admin).json()
            assert (usage["servers"]["used"], usage["gpus"]["used"]) == (3, 3)

            deleted = kubectl.run("delete", "-n", rig.namespace, "modelserve/s2", "--wait=true")
            assert deleted.returncode == 0, deleted.stderr
            wait_for(
                lambda: _gpus_used(rig.url, rig.user, rig.admin) == 1,
                timeout=30,
                what="the deletion releasing its GPUs",
            )
            scaled = kubectl.run("scale", "-n", rig.namespace, "modelserve/s1", "--replicas=2")
            assert scaled.returncode == 0, scaled.stderr
