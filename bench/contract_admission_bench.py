"""Admission latency the contract webhook adds to a ModelServe create, as seen by
kubectl-equivalent API calls: p50 / p99 with and without the webhook, interleaved in the
same run. Goal: p99 added < 10 ms.

    uv run python bench/contract_admission_bench.py [--creates 200] [--pace-ms 0]

`--pace-ms 50` starts a pair of creates every 50 ms (kubectl users, not a create storm;
back to back by default, where the stack's own watchers of every create share the two
cores with the creates). The run ends once its namespaces are deleted, so a second run
does not measure the first one's clean-up.

Runs against the local stack (make up): a throwaway database, the contract service as a
real process with a throwaway TLS certificate, and a webhook registered for one labelled
namespace only (the other namespace is the baseline); both are `opt-*` namespaces, which the
stack's operator leaves alone. Everything is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx
from kubernetes import client

sys.path.insert(0, str(Path(__file__).parent))

from api_common import cpu_seconds, percentile, stack_env, throwaway_database

from inference_common.kube import api_client
from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_testkit.manifests import modelserve_manifest
from inference_testkit.namespaces import temporary_namespace, wait_namespaces_gone
from inference_testkit.servers import free_port, http_process
from inference_testkit.tls import serving_cert
from inference_testkit.webhooks import label_namespace, scoped_validating_webhook


def modelserve(name: str) -> dict[str, object]:
    model = {"name": "bench", "source": {"pvc": {"claimName": "c", "path": "m.gguf"}}}
    return modelserve_manifest(name, {"model": model, "replicas": 1})


def timed_create(custom: client.CustomObjectsApi, namespace: str, name: str) -> float:
    started = time.perf_counter()
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, modelserve(name))
    return (time.perf_counter() - started) * 1000


def server_mean_ms(metrics_url: str) -> float:
    """Mean time the service spent on a review, from its request-latency histogram."""
    totals = {}
    for line in httpx.get(metrics_url, timeout=10).text.splitlines():
        if 'route="/admission/modelserves"' in line and not line.startswith("#"):
            for suffix in ("_sum", "_count"):
                if line.startswith(f"http_request_duration_seconds{suffix}"):
                    totals[suffix] = float(line.rsplit(" ", 1)[1])
    return 1000 * totals["_sum"] / totals["_count"]


def summary(label: str, values: list[float]) -> str:
    values = sorted(values)
    return f"{label}: p50 {percentile(values, 0.5):.1f} ms, p99 {percentile(values, 0.99):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=200, help="per namespace")
    parser.add_argument(
        "--pace-ms",
        type=float,
        default=0.0,
        help="start a pair of creates every this many ms (0: back to back)",
    )
    args = parser.parse_args()
    env = stack_env()
    kube = api_client(env["KUBECONFIG"])
    custom = client.CustomObjectsApi(kube)
    token = secrets.token_hex(4)
    with (
        tempfile.TemporaryDirectory() as tmp,
        throwaway_database(env) as database_url,
        temporary_namespace(kube, "opt-bench") as checked,
        temporary_namespace(kube, "opt-bench") as baseline,
    ):
        cert = serving_cert(Path(tmp))
        port, webhook_port = free_port(), free_port()
        process_env = {
            "PATH": os.environ.get("PATH", ""),
            "DATABASE_URL": database_url,
            "KUBECONFIG": env["KUBECONFIG"],
            "JWT_SECRET": secrets.token_urlsafe(48),
            "RUN_MIGRATIONS": "false",
            "WATCH_MODELSERVES": "false",
            "MAX_SERVERS": str(10 * args.creates),
            "ALLOWED_NAMESPACES": json.dumps([checked, baseline]),
            "PORT": str(port),
            "WEBHOOK_PORT": str(webhook_port),
            "WEBHOOK_TLS_CERT_FILE": str(cert.cert_file),
            "WEBHOOK_TLS_KEY_FILE": str(cert.key_file),
            "LOG_LEVEL": "WARNING",
        }
        with (
            http_process(
                [sys.executable, "-m", "inference_contract.main"],
                process_env,
                f"http://127.0.0.1:{port}/health",
                log=Path(tmp) / "contract.log",
            ) as process,
            scoped_validating_webhook(
                kube,
                token=token,
                url=f"https://127.0.0.1:{webhook_port}/admission/modelserves",
                ca_pem=cert.ca_pem,
                group=GROUP,
                version=VERSION,
                resources=[PLURAL, f"{PLURAL}/scale"],
            ),
        ):
            label_namespace(kube, checked, token)
            for i in range(10):  # warm-up: connections, the webhook's TLS session
                timed_create(custom, checked, f"warm-{i}")
                timed_create(custom, baseline, f"warm-{i}")
            with_webhook: list[float] = []
            without: list[float] = []
            cpu_before = cpu_seconds(process.pid)
            next_pair = time.perf_counter()
            for i in range(args.creates):
                with_webhook.append(timed_create(custom, checked, f"s-{i}"))
                without.append(timed_create(custom, baseline, f"s-{i}"))
                next_pair += args.pace_ms / 1000
                time.sleep(max(0.0, next_pair - time.perf_counter()))
            cpu_ms = (cpu_seconds(process.pid) - cpu_before) * 1000 / args.creates
            served = server_mean_ms(f"http://127.0.0.1:{port}/metrics")
    cleaned = wait_namespaces_gone(kube, [checked, baseline], timeout=600)
    kube.close()
    print(summary("create with the webhook   ", with_webhook))
    print(summary("create without the webhook", without))
    added_p50 = percentile(sorted(with_webhook), 0.5) - percentile(sorted(without), 0.5)
    added_p99 = percentile(sorted(with_webhook), 0.99) - percentile(sorted(without), 0.99)
    print(f"added: p50 {added_p50:.1f} ms, p99 {added_p99:.1f} ms")
    print(f"the webhook's own time per review (mean, its metrics): {served:.1f} ms")
    print(f"the webhook's CPU per review: {cpu_ms:.1f} ms (load-independent; see `uptime`)")
    if not cleaned:
        print("the namespaces were still being deleted after 600 s: wait before the next run")


if __name__ == "__main__":
    main()
