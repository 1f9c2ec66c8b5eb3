"""Operator benchmark: create N ModelServes on the simulated (kwok) nodes and measure

- time from create to all children existing (Secret, Service, Middleware, IngressRoute,
  Deployment) — p50 / p99;
- time from create to status.phase Ready — p50 / p99;
- the operator's peak RSS (VmHWM) and CPU seconds.

    uv run python bench/operator_bench.py            # 200 ModelServes
    uv run python bench/operator_bench.py --count 50

Needs the local stack (`make up`). Runs its own operator process limited to a fresh namespace,
deletes the namespace at the end, and stops by itself (every wait is bounded by --timeout).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from api_common import cpu_seconds, peak_rss_mib, percentile
from kubernetes import client, watch

from inference_common.kube import api_client
from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_localstack import stack
from inference_localstack.config import StackConfig
from inference_testkit.manifests import ON_SIMULATED_NODES, modelserve_manifest, s3_model
from inference_testkit.namespaces import CONTRACT_WEBHOOK_OFF
from modelserve_operator.kinds import CHILD_KINDS


def body(name: str) -> dict[str, Any]:
    spec = {
        "model": s3_model("smollm2-135m-instruct-q4_1.gguf"),
        "nodeSelector": ON_SIMULATED_NODES,
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
    }
    return modelserve_manifest(name, spec)


class Recorder:
    """First time each (ModelServe, event) was seen, from watch streams."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.children: dict[str, dict[str, float]] = {}
        self.ready: dict[str, float] = {}

    def child(self, owner: str, kind: str) -> None:
        with self.lock:
            self.children.setdefault(owner, {}).setdefault(kind, time.monotonic())

    def became_ready(self, name: str) -> None:
        with self.lock:
            self.ready.setdefault(name, time.monotonic())


def _stream(
    fn: Callable[..., Any], stop: threading.Event, timeout: float, **kwargs: Any
) -> Iterator[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        w = watch.Watch()
        for event in w.stream(fn, timeout_seconds=5, **kwargs):
            yield event
            if stop.is_set():
                w.stop()
                break


def watch_children(
    api: client.ApiClient, ns: str, rec: Recorder, stop: threading.Event, timeout: float
) -> list[threading.Thread]:
    core, apps, custom = client.CoreV1Api(api), client.AppsV1Api(api), client.CustomObjectsApi(api)
    label = "app.kubernetes.io/managed-by=modelserve-operator"

    def run(kind: str, fn: Callable[..., Any], **kw: Any) -> None:
        for event in _stream(fn, stop, timeout, namespace=ns, label_selector=label, **kw):
            obj = event["object"]
            labels = (
                obj["metadata"].get("labels") if isinstance(obj, dict) else obj.metadata.labels
            ) or {}
            owner = labels.get(f"{GROUP}/modelserve")
            if owner:
                rec.child(owner, kind)

    def run_status() -> None:
        for event in _stream(
            custom.list_namespaced_custom_object,
            stop,
            timeout,
            group=GROUP,
            version=VERSION,
            namespace=ns,
            plural=PLURAL,
        ):
            obj = event["object"]
            if (obj.get("status") or {}).get("phase") == "Ready":
                rec.became_ready(obj["metadata"]["name"])

    typed: dict[str, Callable[..., Any]] = {
        "Secret": core.list_namespaced_secret,
        "ConfigMap": core.list_namespaced_config_map,
        "Service": core.list_namespaced_service,
        "Deployment": apps.list_namespaced_deployment,
        "NetworkPolicy": client.NetworkingV1Api(api).list_namespaced_network_policy,
    }
    targets: list[tuple[Callable[..., None], tuple[Any, ...], dict[str, Any]]] = [
        (run, (k.kind, typed[k.kind]), {})
        if k.kind in typed
        else (
            run,
            (k.kind, custom.list_namespaced_custom_object),
            {"group": k.group, "version": k.version, "plural": k.plural},
        )
        for k in CHILD_KINDS
    ]
    targets.append((run_status, (), {}))
    threads = [
        threading.Thread(target=fn, args=args, kwargs=kw, daemon=True) for fn, args, kw in targets
    ]
    for t in threads:
        t.start()
    return threads


def start_operator(env: dict[str, str], ns: str, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc_env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}},
        "KUBECONFIG": env["KUBECONFIG"],
        "S3_ENDPOINT": env["S3_ENDPOINT"],
        "S3_ACCESS_KEY": env["S3_ACCESS_KEY"],
        "S3_SECRET_KEY": env["S3_SECRET_KEY"],
        "SERVER_UUID_KEY": env.get("SERVER_UUID_KEY") or secrets.token_urlsafe(32),
        "LIVENESS_PORT": str(port),
        "LIVENESS_HOST": "127.0.0.1",
        "LOG_LEVEL": os.environ.get("BENCH_OPERATOR_LOG_LEVEL", "WARNING"),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelserve_operator.main", "-n", ns],
            env=proc_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, port


def wait_alive(proc: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"operator exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("operator did not become alive")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="ModelServes to create")
    parser.add_argument("--timeout", type=float, default=300, help="overall bound, seconds")
    parser.add_argument("--log", type=Path, default=Path("/tmp/operator-bench.log"))  # noqa: S108
    args = parser.parse_args()
    if not 1 <= args.count <= 500:
        parser.error("--count must be in [1, 500]")

    env = stack.read_env(StackConfig())
    api = api_client(env["KUBECONFIG"])
    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)
    ns = f"opt-bench-{secrets.token_hex(3)}"  # opt-*: the stack's operator skips it
    # the stack's contract webhook leaves it alone too: the bench measures the operator
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=ns, labels=CONTRACT_WEBHOOK_OFF))
    )
    proc, port = start_operator(env, ns, args.log)
    stop = threading.Event()
    try:
        wait_alive(proc, port, 60)
        rec = Recorder()
        threads = watch_children(api, ns, rec, stop, args.timeout)
        names = [f"b{i:03d}" for i in range(args.count)]
        created: dict[str, float] = {}
        started = time.monotonic()
        for name in names:
            created[name] = time.monotonic()
            custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body(name))
        create_seconds = time.monotonic() - started
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            with rec.lock:
                done = len(rec.ready) == len(names) and all(
                    len(rec.children.get(n, {})) == len(CHILD_KINDS) for n in names
                )
            if done:
                break
            time.sleep(0.2)
        rss_mib, cpu_s = peak_rss_mib(proc.pid), cpu_seconds(proc.pid)
        stop.set()
        with rec.lock:
            child_times = [
                max(rec.children[n].values()) - created[n]
                for n in names
                if len(rec.children.get(n, {})) == len(CHILD_KINDS)
            ]
            ready_times = [rec.ready[n] - created[n] for n in names if n in rec.ready]
        result = {
            "count": len(names),
            "create_all_s": round(create_seconds, 2),
            "children_complete": len(child_times),
            "ready": len(ready_times),
            "children_p50_s": round(statistics.median(child_times), 3) if child_times else None,
            "children_p99_s": round(percentile(child_times, 0.99), 3) if child_times else None,
            "ready_p50_s": round(statistics.median(ready_times), 3) if ready_times else None,
            "ready_p99_s": round(percentile(ready_times, 0.99), 3) if ready_times else None,
            "operator_peak_rss_mib": round(rss_mib, 1),
            "operator_cpu_seconds": round(cpu_s, 2),
        }
        print(json.dumps(result, indent=2))
        for t in threads:
            t.join(timeout=10)
    finally:
        stop.set()
        remove_modelserves(custom, ns, proc, args.timeout)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        core.delete_namespace(ns, propagation_policy="Background")
        api.close()


def remove_modelserves(
    custom: client.CustomObjectsApi, ns: str, proc: subprocess.Popen[bytes], timeout: float
) -> None:
    """Deletes the bench's ModelServes while its operator still runs, so their finalizers go
    and the namespace can go too (without an operator they would keep it Terminating)."""
    custom.delete_collection_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if not custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]:
            return
        time.sleep(0.5)
    print(f"warning: ModelServes left in {ns} (operator gone or --timeout)", file=sys.stderr)


if __name__ == "__main__":
    main()
