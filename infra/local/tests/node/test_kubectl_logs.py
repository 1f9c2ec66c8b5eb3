"""`kubectl logs` and `kubectl describe pod` through a real kube-apiserver of the test's own
(the stack's flags, a throwaway etcd and PKI, free loopback ports), to the local kubelet's log
server: the apiserver dials the Node's InternalIP and advertised port with its kubelet-client
certificate and checks the kubelet's serving certificate against the stack's CA."""

from __future__ import annotations

import dataclasses
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from inference_common.kube import api_client
from inference_common.kube_events import NORMAL, WARNING, EventRecorder
from inference_localstack import components, pki, processes
from inference_localstack.config import StackConfig
from inference_localstack.node import logserver
from inference_localstack.node.machine import Machine
from inference_localstack.node.node_object import node_status
from inference_testkit.servers import free_port
from inference_testkit.throwaway import etcd_server
from inference_testkit.waiting import wait_for

NODE = "log-node"
POD = "llm-0"
CONTAINER = "llama-server"
KUBECTL_TIMEOUT = 30


@dataclass
class Cluster:
    config: StackConfig
    kubeconfig: Path
    kubectl: Path
    api: client.ApiClient

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.kubectl), f"--kubeconfig={self.kubeconfig}", "--request-timeout=20s", *args],
            capture_output=True,
            text=True,
            timeout=KUBECTL_TIMEOUT,
        )


def _ready(url: str, ca: Path) -> bool:
    try:
        verify = ssl.create_default_context(cafile=str(ca))
        return httpx.get(url, verify=verify, timeout=2.0).text.strip() == "ok"
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with etcd_server() as etcd:
        etcd.start()
        ports = dataclasses.replace(etcd.config.ports, apiserver=free_port())
        config = dataclasses.replace(etcd.config, ports=ports)
        creds = pki.ensure_secrets(config)
        apiserver = components.kube_apiserver(config, etcd.bin_dir)
        processes.start(config, apiserver.name, apiserver.argv)
        try:
            ca = config.pki_dir / "ca.crt"
            wait_for(
                lambda: _ready(apiserver.health_url, ca) or None,
                timeout=120,
                what="the throwaway kube-apiserver is ready",
            )
            kubeconfig = config.state_dir / "kubeconfig"
            server = f"https://127.0.0.1:{ports.apiserver}"
            document = pki.kubeconfig_document(server, ca, "admin", creds.tokens["admin"])
            kubeconfig.write_text(yaml.safe_dump(document))
            api = api_client(str(kubeconfig))
            yield Cluster(config, kubeconfig, etcd.bin_dir / "kubectl", api)
            api.close()
        finally:
            processes.stop(config, apiserver.name)


def register_node(core: client.CoreV1Api, name: str, port: int) -> None:
    """A Node as the local kubelet registers it (its status from `node_status`)."""
    core.create_node({"metadata": {"name": name}})  # type: ignore[arg-type]
    machine = Machine(cpus=1, memory_kib=1024 * 1024, gpus=())
    status = node_status(machine, "10.250.0.1", name, "2026-01-01T00:00:00Z", kubelet_port=port)
    core.patch_node_status(name, {"status": status})


def create_pod(core: client.CoreV1Api, name: str, node: str) -> dict[str, Any]:
    try:
        core.create_namespaced_service_account("default", {"metadata": {"name": "default"}})  # type: ignore[arg-type]
    except ApiException as exc:
        if exc.status != 409:
            raise
    body = {
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": False,
            "containers": [{"name": CONTAINER, "image": "local/llama-server"}],
        },
    }
    created = core.create_namespaced_pod("default", body)  # type: ignore[arg-type]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": "default", "name": name, "uid": created.metadata.uid},
    }


@pytest.fixture(scope="module")
def pod_log(cluster: Cluster) -> Iterator[tuple[Path, dict[str, Any]]]:
    cert, key = pki.kubelet_serving_cert(cluster.config)
    log_dir = cluster.config.state_dir / "pod-logs"
    log_dir.mkdir()
    server = logserver.serve(
        ("127.0.0.1", 0),
        log_dir,
        cert,
        key,
        cluster.config.pki_dir / "ca.crt",
        pki.KUBELET_CLIENT_CN,
    )
    try:
        core = client.CoreV1Api(cluster.api)
        register_node(core, NODE, server.server_address[1])
        pod = create_pod(core, POD, NODE)
        path = log_dir / f"pod_default_{POD}_{CONTAINER}.log"
        lines = "".join(f"line {i}\n" for i in range(1, 11))
        path.write_text(f"--- start 1\ncrashed once\n--- start 2\n{lines}")
        yield path, pod
    finally:
        server.stop()


def test_kubectl_logs_tail_and_previous(cluster: Cluster, pod_log: tuple[Path, Any]) -> None:
    tail = cluster.run("logs", POD, "-c", CONTAINER, "--tail=5")
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout.splitlines() == [f"line {i}" for i in range(6, 11)]
    previous = cluster.run("logs", POD, "--previous")
    assert previous.returncode == 0, previous.stderr
    assert previous.stdout == "crashed once\n"


def test_kubectl_logs_follow_streams_until_the_container_restarts(
    cluster: Cluster, pod_log: tuple[Path, Any]
) -> None:
    path, _ = pod_log
    args = [str(cluster.kubectl), f"--kubeconfig={cluster.kubeconfig}", "logs", "-f", POD]
    with subprocess.Popen(
        [*args, "--tail=1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as follow:
        watchdog = threading.Timer(KUBECTL_TIMEOUT, follow.kill)  # a hang fails, bounded
        watchdog.start()
        assert follow.stdout is not None
        assert follow.stdout.readline() == "line 10\n"
        with path.open("a") as f:
            f.write("followed 1\nfollowed 2\n")
        assert follow.stdout.readline() == "followed 1\n"
        assert follow.stdout.readline() == "followed 2\n"
        with path.open("a") as f:
            f.write("--- start 3\nnext run\n")
        rest, _ = follow.communicate(timeout=KUBECTL_TIMEOUT)
        watchdog.cancel()
        assert rest == ""
        assert follow.returncode == 0


def test_a_node_without_a_kubelet_is_a_quick_clear_error(
    cluster: Cluster, pod_log: tuple[Path, Any]
) -> None:
    core = client.CoreV1Api(cluster.api)
    register_node(core, "silent-node", free_port())
    create_pod(core, "silent-0", "silent-node")
    reply = cluster.run("logs", "silent-0", "--tail=5")
    assert reply.returncode != 0
    assert "connection refused" in reply.stderr


def test_kubectl_describe_pod_lists_the_kubelet_events(
    cluster: Cluster, pod_log: tuple[Path, Any]
) -> None:
    _, pod = pod_log
    kubelet = EventRecorder(cluster.api, component="kubelet", host=NODE, min_interval=0)
    kubelet.record(pod, NORMAL, "Started", f"Started container {CONTAINER}")
    for _ in range(3):
        kubelet.record(pod, WARNING, "BackOff", f"Back-off restarting failed container {CONTAINER}")
    kubelet.record(pod, NORMAL, "Killing", f"Stopping container {CONTAINER}")
    described = cluster.run("describe", "pod", POD)
    assert described.returncode == 0, described.stderr
    events = described.stdout.split("Events:", 1)[1]
    assert "Started" in events
    assert "Killing" in events
    backoff = next(line for line in events.splitlines() if "BackOff" in line)
    assert "x3" in backoff
    listed = cluster.run("get", "events", "-o", "json")
    reasons = {e["reason"]: e["count"] for e in json.loads(listed.stdout)["items"]}
    assert reasons["BackOff"] == 3
