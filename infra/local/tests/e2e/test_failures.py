"""Failure paths on the real local kubelet: a model whose checksum does not match, a killed
llama.cpp process, a killed and restarted local kubelet."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import httpx
from kubernetes import client

from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_localstack import components, processes
from inference_localstack.config import StackConfig
from inference_localstack.launch import start_component
from inference_localstack.node.node_object import LOCAL_NODE_LABEL
from inference_testkit.manifests import modelserve_manifest, s3_model
from inference_testkit.waiting import wait_for

from .conftest import bearer, chat, netns_of_ip, netns_pids, pods_of


def _modelserve(api: httpx.Client, name: str, sha256: str | None = None) -> dict[str, Any]:
    model = next(m for m in api.get("/models").json() if m["name"] == "smollm2:135m")
    detail = api.get(f"/models/{model['uuid']}").json()
    spec = {
        "model": s3_model(
            detail["object_key"], sha256 or detail["sha256"], size_bytes=detail["size_bytes"]
        ),
        "replicas": 1,
        "runtime": {"contextSize": 1024},
        "nodeSelector": {LOCAL_NODE_LABEL: "true"},
        "tolerations": [{"key": LOCAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}],
    }
    return modelserve_manifest(name, spec)


def _status(kube_api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    obj = client.CustomObjectsApi(kube_api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    return dict(obj.get("status") or {})


def _create(kube_api: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    return dict(
        client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body
        )
    )


def _wait_phase(
    kube_api: client.ApiClient, namespace: str, name: str, phase: str, timeout: float
) -> dict[str, Any]:
    return wait_for(
        lambda: (s := _status(kube_api, namespace, name)).get("phase") == phase and s,
        timeout=timeout,
        what=f"{name} {phase}",
    )


def _serve_until_ready(
    api: httpx.Client, kube_api: client.ApiClient, namespace: str, name: str
) -> str:
    """Creates a ModelServe of the embedded model on the local node; its endpoint once Ready."""
    created = _create(kube_api, namespace, _modelserve(api, name))
    _wait_phase(kube_api, namespace, name, "Ready", timeout=180)
    return f"/{created['metadata']['uid']}/"


def test_checksum_mismatch_fails_and_starts_no_server(
    api: httpx.Client, kube_api: client.ApiClient, namespace: str
) -> None:
    _create(kube_api, namespace, _modelserve(api, "bad-sha", sha256="0" * 64))
    status = _wait_phase(kube_api, namespace, "bad-sha", "Failed", timeout=120)
    text = str(status.get("conditions"))
    assert "sha256" in text.lower() or "checksum" in text.lower(), status
    (pod,) = client.CoreV1Api(kube_api).list_namespaced_pod(namespace).items
    server = pod.status.container_statuses[0]
    assert server.state.running is None
    assert server.restart_count == 0
    assert pod.status.init_container_statuses[0].last_state.terminated.exit_code == 2


def _answers(traefik_url: str, endpoint: str, headers: dict[str, str]) -> bool:
    """A real completion through the server's route."""
    try:
        response = chat(traefik_url, endpoint, stream=False, max_tokens=4, headers=headers)
    except httpx.HTTPError:
        return False
    if response.status_code != 200:
        return False
    message = response.json()["choices"][0]["message"]
    return isinstance(message.get("content"), str) and bool(message["content"])


def test_killed_llama_process_restarts_and_serving_returns(
    stack_env: dict[str, str], api: httpx.Client, kube_api: client.ApiClient, namespace: str
) -> None:
    endpoint = _serve_until_ready(api, kube_api, namespace, "crashy")
    (pod,) = client.CoreV1Api(kube_api).list_namespaced_pod(namespace).items
    netns = netns_of_ip(pod.status.pod_ip)
    assert netns is not None
    for pid in netns_pids(netns):
        os.kill(pid, signal.SIGKILL)

    def restarted_and_ready() -> bool:
        (p,) = client.CoreV1Api(kube_api).list_namespaced_pod(namespace).items
        statuses = p.status.container_statuses or []
        return bool(statuses) and statuses[0].restart_count >= 1 and statuses[0].ready

    wait_for(restarted_and_ready, timeout=120, what="container restarted and ready")
    _wait_phase(kube_api, namespace, "crashy", "Ready", timeout=60)
    # Traefik learns of the Ready endpoint from the EndpointSlice, a moment after the pod
    wait_for(
        lambda: _answers(stack_env["TRAEFIK_URL"], endpoint, bearer(api)),
        timeout=30,
        interval=0.5,
        what="route answers again",
    )


def test_local_kubelet_killed_and_restarted_resumes_serving(
    stack_env: dict[str, str], api: httpx.Client, kube_api: client.ApiClient, namespace: str
) -> None:
    endpoint = _serve_until_ready(api, kube_api, namespace, "survivor")
    cfg = StackConfig()
    pid = processes.running_pid(cfg, "node-runtime")
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    wait_for(
        lambda: processes.running_pid(cfg, "node-runtime") is None, timeout=10, what="kubelet dead"
    )
    start_component(cfg, components.local_kubelet(cfg, sys.executable))

    wait_for(
        lambda: _answers(stack_env["TRAEFIK_URL"], endpoint, bearer(api)),
        timeout=180,
        interval=1.0,
        what="serving resumed",
    )
    assert _status(kube_api, namespace, "survivor").get("phase") == "Ready"
    assert len(pods_of(kube_api, namespace, endpoint.strip("/"))) <= 1
