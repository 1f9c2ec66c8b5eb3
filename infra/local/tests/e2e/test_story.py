"""A server on the local node tells its story through Kubernetes as on a real cluster:
`kubectl logs` (`--tail`, `-f`) reaches the local kubelet through the apiserver, `kubectl
describe` shows the kubelet's pod Events and the operator's ModelServe Events, and the API's
`/servers/{uuid}/logs` and `/events` return the same. Needs a stack started with this code
(the apiserver's kubelet flags, the kubelet's API port)."""

from __future__ import annotations

import subprocess
import threading
from typing import Any

import httpx
from kubernetes import client

from inference_common.modelserve import SERVER_UUID_LABEL
from inference_localstack import stack
from inference_localstack.embedded_model import REGISTRY_NAME
from inference_testkit.waiting import wait_for

from .conftest import pods_of

SERVERS_NAMESPACE = "inference"
KUBECTL_TIMEOUT = 30


def kubectl(stack_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    binary = stack.toolchain_bin_dir(build=False) / "kubectl"
    return subprocess.run(
        [str(binary), f"--kubeconfig={stack_env['KUBECONFIG']}", "-n", SERVERS_NAMESPACE, *args],
        capture_output=True,
        text=True,
        timeout=KUBECTL_TIMEOUT,
    )


def events_section(described: str) -> str:
    return described.split("Events:", 1)[1]


def first_followed_line(stack_env: dict[str, str], pod: str) -> str:
    binary = stack.toolchain_bin_dir(build=False) / "kubectl"
    args = [str(binary), f"--kubeconfig={stack_env['KUBECONFIG']}", "-n", SERVERS_NAMESPACE]
    with subprocess.Popen(
        [*args, "logs", "-f", "--tail=1", pod], stdout=subprocess.PIPE, text=True
    ) as follow:
        watchdog = threading.Timer(KUBECTL_TIMEOUT, follow.kill)  # bounded
        watchdog.start()
        assert follow.stdout is not None
        line = follow.stdout.readline()
        follow.kill()
        watchdog.cancel()
    return line


def test_logs_and_events_of_a_local_server(
    stack_env: dict[str, str], api: httpx.Client, kube_api: client.ApiClient
) -> None:
    served = api.post("/serve", json={"model_name": REGISTRY_NAME, "replicas": 1})
    assert served.status_code in (200, 201), served.text
    server_uuid, name = served.json()["server_uuid"], served.json()["name"]
    try:
        wait_for(
            lambda: api.get(f"/servers/{server_uuid}").json().get("phase") == "Ready",
            timeout=180,
            what="the server is Ready",
        )
        (pod,) = pods_of(kube_api, SERVERS_NAMESPACE, server_uuid)
        pod_name = pod.metadata.name

        tail = kubectl(stack_env, "logs", pod_name, "-c", "llama-server", "--tail=5")
        assert tail.returncode == 0, tail.stderr
        assert len(tail.stdout.splitlines()) == 5
        assert first_followed_line(stack_env, pod_name).strip()

        logs = api.get(f"/servers/{server_uuid}/logs", params={"tail": 5})
        assert logs.status_code == 200, logs.text
        assert logs.headers["x-pod"] == pod_name
        assert len(logs.text.splitlines()) == 5

        described_pod = kubectl(stack_env, "describe", "pod", pod_name)
        assert described_pod.returncode == 0, described_pod.stderr
        assert "Started" in events_section(described_pod.stdout)
        described_ms = kubectl(stack_env, "describe", "modelserve", name)
        assert described_ms.returncode == 0, described_ms.stderr
        story = events_section(described_ms.stdout)
        assert "ChildrenApplied" in story
        assert "Ready" in story

        def told() -> set[tuple[str, str]] | None:
            events = api.get(f"/servers/{server_uuid}/events").json()["events"]
            found = {(e["object"]["kind"], e["reason"]) for e in events}
            return found if {("ModelServe", "Ready"), ("Pod", "Started")} <= found else None

        wait_for(told, timeout=30, what="the API shows the operator's and the kubelet's events")
    finally:
        stopped = api.delete(f"/stop/{server_uuid}")
        assert stopped.status_code in (200, 202, 204), stopped.text

    core = client.CoreV1Api(kube_api)

    def killed() -> list[Any] | None:
        found = core.list_namespaced_event(
            SERVERS_NAMESPACE, field_selector=f"involvedObject.name={pod_name},reason=Killing"
        ).items
        return found or None

    (killing, *_) = wait_for(killed, timeout=60, what="the kubelet's Killing event")
    assert killing.source.component == "kubelet"
    assert pod.metadata.labels[SERVER_UUID_LABEL] == server_uuid
