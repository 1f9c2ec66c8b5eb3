"""`python -m inference_localstack.node.kubelet`: the local kubelet. Registers this machine
as a node and runs the pods bound to it (see `supervisor.py`), which it follows with a
`ThreadInformer` (callbacks on the watch thread: this code is threaded). Stopping it stops
its pods' processes; starting it again restarts them (the model cache makes that quick)."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from inference_common.informer import Listed, ThreadInformer
from inference_common.kube import api_client
from inference_common.kube_events import EventRecorder
from inference_common.logging import configure_logging
from inference_common.modelserve import SERVER_UUID_LABEL
from inference_localstack import network, pki
from inference_localstack.config import Network, StackConfig
from inference_localstack.node import logserver, metrics
from inference_localstack.node import machine as machine_mod
from inference_localstack.node.node_object import node_object, node_status
from inference_localstack.node.supervisor import NodeContext, PodSupervisor

logger = logging.getLogger("local-kubelet")

FIRST_POD_OFFSET = 2
LAST_POD_OFFSET = 199  # 200+ are test hosts
HEARTBEAT_SECONDS = 10
LEASE_SECONDS = 40
POD_WATCH_SECONDS = 60


class Allocator:
    """Pod IPs (and their namespace names) and GPU indices, under one lock."""

    def __init__(self, net: Network, gpus: int) -> None:
        self.net = net
        self.lock = threading.Lock()
        self.ips: dict[str, int] = {}
        self.free_gpus = list(range(gpus))
        self.gpus: dict[str, list[int]] = {}
        self.last_offset = FIRST_POD_OFFSET - 1

    def netns_name(self, offset: int) -> str:
        return f"{self.net.prefix}-p{offset}"

    def allocate_ip(self, uid: str, wanted: str | None) -> tuple[str, str]:
        subnet = ipaddress.ip_network(self.net.local_pod_cidr)
        with self.lock:
            if uid in self.ips:
                offset = self.ips[uid]
            else:
                used = set(self.ips.values())
                offset = -1
                if wanted and ipaddress.ip_address(wanted) in subnet:
                    candidate = int(ipaddress.ip_address(wanted)) - int(subnet.network_address)
                    if FIRST_POD_OFFSET <= candidate <= LAST_POD_OFFSET and candidate not in used:
                        offset = candidate
                if offset < 0:
                    # round robin, so a freed address is not handed out again at once
                    span = LAST_POD_OFFSET - FIRST_POD_OFFSET + 1
                    start = self.last_offset + 1 - FIRST_POD_OFFSET
                    candidates = (FIRST_POD_OFFSET + (start + i) % span for i in range(span))
                    offset = next((o for o in candidates if o not in used), -1)
                if offset < 0:
                    raise RuntimeError("no pod IP left on the local node")
                self.ips[uid] = offset
                self.last_offset = offset
        return self.netns_name(offset), str(subnet.network_address + offset)

    def release_ip(self, uid: str) -> None:
        with self.lock:
            self.ips.pop(uid, None)

    def allocate_gpus(self, uid: str, count: int) -> list[int] | None:
        with self.lock:
            if uid in self.gpus:
                return self.gpus[uid]
            if count > len(self.free_gpus):
                return None
            taken, self.free_gpus = self.free_gpus[:count], self.free_gpus[count:]
            self.gpus[uid] = taken
            return taken

    def release_gpus(self, uid: str) -> None:
        with self.lock:
            self.free_gpus = sorted(self.free_gpus + self.gpus.pop(uid, []))


class LocalKubelet:
    def __init__(self, name: str, kubeconfig: str, config: StackConfig) -> None:
        self.name = name
        self.config = config
        self.net = config.network
        self.api = api_client(kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.leases = client.CoordinationV1Api(self.api)
        self.events = EventRecorder(self.api, component="kubelet", host=name)
        self.pods = ThreadInformer(
            self.core.list_pod_for_all_namespaces,
            name="pods",
            field_selector=f"spec.nodeName={name}",
            on_event=self.pod_changed,
            on_relist=self.pod_listed,
            watch_timeout=POD_WATCH_SECONDS,
        )
        self.machine = machine_mod.detect()
        self.allocator = Allocator(self.net, len(self.machine.gpus))
        self.supervisors: dict[str, PodSupervisor] = {}
        self.stopping = threading.Event()
        self.last_contact = 0.0
        self.kubelet_port = 0
        data = config.data_dir("node")
        self.ctx = NodeContext(
            net=self.net,
            host_ip=self.net.host_node_ip,
            pods_dir=data / "pods",
            model_cache=data / "model-cache",
            log_dir=config.log_dir,
            python=sys.executable,
            fetch_objects=self.fetch_objects,
            allocate_ip=self.allocator.allocate_ip,
            release_ip=self.allocator.release_ip,
            allocate_gpus=self.allocator.allocate_gpus,
            release_gpus=self.allocator.release_gpus,
            record_event=self.events.record,
        )

    # --- node -----------------------------------------------------------------------------

    def register(self) -> None:
        body = node_object(self.name, self.machine, self.net)
        try:
            self.core.create_node(body)  # type: ignore[arg-type]  # dicts are accepted
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.core.patch_node(self.name, body)
        self.heartbeat()

    def heartbeat(self) -> None:
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.core.patch_node_status(
            self.name,
            {
                "status": node_status(
                    self.machine,
                    self.net.host_node_ip,
                    self.name,
                    stamp,
                    kubelet_port=self.kubelet_port,
                )
            },
        )
        renew = {
            "spec": {
                "holderIdentity": self.name,
                "leaseDurationSeconds": LEASE_SECONDS,
                "renewTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
        }
        try:
            self.leases.patch_namespaced_lease(self.name, "kube-node-lease", renew)
        except ApiException as exc:
            if exc.status != 404:
                raise
            body = {"metadata": {"name": self.name}, **renew}
            self.leases.create_namespaced_lease("kube-node-lease", body)  # type: ignore[arg-type]
        self.last_contact = time.monotonic()

    def heartbeat_loop(self) -> None:
        while not self.stopping.wait(HEARTBEAT_SECONDS):
            try:
                self.heartbeat()
            except Exception as exc:
                logger.warning("heartbeat failed: %s", exc)

    # --- pods -----------------------------------------------------------------------------

    def fetch_objects(
        self, namespace: str, secrets: set[str], config_maps: set[str]
    ) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
        import base64

        found_secrets: dict[str, dict[str, str]] = {}
        for name in secrets:
            try:
                data = self.core.read_namespaced_secret(name, namespace).data or {}
            except ApiException as exc:
                if exc.status == 404:
                    continue
                raise
            found_secrets[name] = {k: base64.b64decode(v).decode() for k, v in data.items()}
        found_maps: dict[str, dict[str, str]] = {}
        for name in config_maps:
            try:
                found_maps[name] = dict(
                    self.core.read_namespaced_config_map(name, namespace).data or {}
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise
        return found_secrets, found_maps

    def report_status(self, pod: dict[str, Any]) -> Any:
        meta = pod["metadata"]

        def report(status: dict[str, Any]) -> None:
            self.core.patch_namespaced_pod_status(
                meta["name"], meta["namespace"], {"status": status}
            )

        return report

    def handle(self, event_type: str, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        if event_type == "DELETED" or meta.get("deletionTimestamp"):
            supervisor = self.supervisors.pop(uid, None)
            if supervisor is not None:
                grace = float(pod["spec"].get("terminationGracePeriodSeconds") or 30)
                threading.Thread(
                    target=self._finish, args=(supervisor, pod, min(grace, 30.0)), daemon=True
                ).start()
            elif event_type != "DELETED":
                self._delete_pod(pod)
            return
        if uid not in self.supervisors and (pod.get("status") or {}).get("phase") not in (
            "Failed",
            "Succeeded",
        ):
            logger.info("starting pod %s/%s", meta["namespace"], meta["name"])
            supervisor = PodSupervisor(pod, self.ctx, self.report_status(pod))
            self.supervisors[uid] = supervisor
            supervisor.start()

    def _finish(self, supervisor: PodSupervisor, pod: dict[str, Any], grace: float) -> None:
        supervisor.stop(grace)
        self._delete_pod(pod)

    def _delete_pod(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        try:
            self.core.delete_namespaced_pod(
                meta["name"],
                meta["namespace"],
                grace_period_seconds=0,
                body=client.V1DeleteOptions(
                    grace_period_seconds=0, preconditions=client.V1Preconditions(uid=meta["uid"])
                ),
            )
        except ApiException as exc:
            if exc.status not in (404, 409):
                logger.warning(
                    "could not delete pod %s/%s: %s", meta["namespace"], meta["name"], exc
                )

    def pod_listed(self, listed: Listed) -> None:
        """A full list of the pods bound here: each handled, and the ones gone stopped."""
        self.last_contact = time.monotonic()
        for pod in listed.items:
            self.handle("ADDED", pod)
        live = {pod["metadata"]["uid"] for pod in listed.items}
        for uid in set(self.supervisors) - live:
            self.supervisors.pop(uid).stop(5)

    def pod_changed(self, kind: str, pod: dict[str, Any], _old: dict[str, Any] | None) -> None:
        self.last_contact = time.monotonic()
        self.handle(kind, pod)

    def cleanup_orphans(self) -> None:
        """Namespaces and processes left by a kubelet that was killed: removed, so the pods
        start afresh (their IPs are kept when still free)."""
        import os

        for pid_file in self.ctx.pods_dir.glob("*/*.pid"):
            with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)
            pid_file.unlink(missing_ok=True)
        for name in network.namespaces():
            if name.startswith(f"{self.net.prefix}-p"):
                network.delete_pod_namespace(name)

    def shutdown(self) -> None:
        self.stopping.set()
        self.pods.stop()
        for supervisor in list(self.supervisors.values()):
            supervisor.stop(5)
        self.supervisors.clear()


def metrics_text(kubelet: LocalKubelet) -> str:
    """GET /metrics: its pods, and each real card with the pod and server holding it."""
    with kubelet.allocator.lock:
        held = {uid: list(indices) for uid, indices in kubelet.allocator.gpus.items()}
    holders: dict[int, metrics.Holder] = {}
    for uid, indices in held.items():
        supervisor = kubelet.supervisors.get(uid)
        if supervisor is None:
            continue
        meta = supervisor.pod["metadata"]
        server = (meta.get("labels") or {}).get(SERVER_UUID_LABEL, "")
        for index in indices:
            holders[index] = metrics.Holder(meta["namespace"], meta["name"], server)
    gpus = metrics.read_gpus() if kubelet.machine.gpus else []
    return metrics.render(kubelet.name, len(kubelet.supervisors), gpus, holders)


def serve_health(kubelet: LocalKubelet, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                text = metrics_text(kubelet).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
                return
            healthy = (
                self.path == "/healthz"
                and time.monotonic() - kubelet.last_contact < 3 * HEARTBEAT_SECONDS
            )
            body = b"ok" if healthy else b"unhealthy"
            self.send_response(200 if healthy else 503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve_kubelet_api(config: StackConfig, port: int) -> logserver.KubeletServer | None:
    """The container-log API on loopback (the Node advertises it as `localhost`, its
    InternalDNS address). Without its certificates (a state folder from before them) or its
    port, the node runs without it."""
    if not port:
        return None
    cert, key = pki.kubelet_serving_cert(config)
    if not cert.exists():
        logger.warning("no kubelet serving certificate in %s: kubectl logs is off", cert.parent)
        return None
    try:
        return logserver.serve(
            ("127.0.0.1", port),
            config.log_dir,
            cert,
            key,
            config.pki_dir / "ca.crt",
            pki.KUBELET_CLIENT_CN,
        )
    except OSError as exc:  # the port is taken: run the pods all the same
        logger.warning("kubelet API not served on 127.0.0.1:%s: %s", port, exc)
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local-kubelet", description=__doc__)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--node-name", default="local-node")
    parser.add_argument("--health-port", type=int, default=10248)
    parser.add_argument(
        "--kubelet-port", type=int, default=0, help="TLS API for `kubectl logs` (0: none)"
    )
    args = parser.parse_args(argv)
    configure_logging()
    # httpx logs every probe (each pod's readiness and liveness, twice a second) at INFO
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = StackConfig()
    kubelet = LocalKubelet(args.node_name, args.kubeconfig, config)
    kubelet.cleanup_orphans()
    kubelet.ctx.model_cache.mkdir(parents=True, exist_ok=True)
    api_server = serve_kubelet_api(config, args.kubelet_port)
    kubelet.kubelet_port = args.kubelet_port if api_server else 0
    kubelet.register()
    server = serve_health(kubelet, args.health_port)
    done = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threading.Thread(target=kubelet.heartbeat_loop, daemon=True).start()
    kubelet.pods.start()
    logger.info(
        "node %s registered: %d CPUs, %d GPUs",
        kubelet.name,
        kubelet.machine.cpus,
        len(kubelet.machine.gpus),
    )
    done.wait()
    kubelet.shutdown()
    server.shutdown()
    if api_server is not None:
        api_server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
