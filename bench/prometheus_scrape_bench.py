"""Prometheus' cost of scraping N llama.cpp servers: series in the head block and the
process' RSS, with the stack's rules loaded.

    python bench/prometheus_scrape_bench.py --servers 200 --seconds 120

One real llama.cpp server (the embedded model, `--metrics`) runs on 127.0.0.1 and stands
for every server: the N targets are that one address, each with its own `server_uuid` (a
target is its label set), so Prometheus stores and evaluates exactly what N servers would
send. The llama.cpp side sees N scrapes per interval, which it answers from counters.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from inference_localstack import llama_server, observability
from inference_localstack.embedded_model import REGISTRY_NAME, embedded_model_path
from inference_localstack.stack import toolchain_bin_dir
from inference_testkit.servers import free_port, stop_process, wait_http_ok


def config(llama: str, servers: int, interval: str) -> dict[str, object]:
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(observability.RULES_DIR / "*.yml")],
        "scrape_configs": [
            {
                "job_name": observability.LLAMA_JOB,
                "static_configs": [
                    {
                        "targets": [llama],
                        "labels": {
                            "server_uuid": f"bench-{i:04d}",
                            "model": REGISTRY_NAME,
                            "namespace": "inference",
                        },
                    }
                    for i in range(servers)
                ],
            }
        ],
    }


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def scalar(prometheus: str, promql: str) -> float:
    body = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--interval", default="15s")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="prom-bench-"))
    llama_port, prom_port = free_port(), free_port()
    llama = subprocess.Popen(
        llama_server.command(
            str(embedded_model_path()),
            "127.0.0.1",
            llama_port,
            *("-c", "512", "-np", "1", "-t", "1", "--metrics", "--no-webui"),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    (work / "prometheus.yml").write_text(
        yaml.safe_dump(config(f"127.0.0.1:{llama_port}", args.servers, args.interval))
    )
    component = observability.prometheus(
        toolchain_bin_dir(build=False), work / "prometheus.yml", work / "tsdb", prom_port
    )
    prom = subprocess.Popen(component.argv)
    base = f"http://127.0.0.1:{prom_port}"
    try:
        wait_http_ok(f"http://127.0.0.1:{llama_port}/health", llama, 120)
        wait_http_ok(component.health_url, prom, 60)
        time.sleep(args.seconds)  # a benchmark's fixed duration, not a wait on a condition
        head = httpx.get(f"{base}/api/v1/status/tsdb", timeout=10).json()["data"]["headStats"]
        groups = httpx.get(f"{base}/api/v1/rules", timeout=10).json()["data"]["groups"]
        per_target = scalar(base, 'avg(scrape_samples_scraped{job="llama-cpp"})')
        targets = scalar(base, 'count(up{job="llama-cpp"} == 1)')
        rules = sum(len(g["rules"]) for g in groups)
        print(f"servers {args.servers} (up {targets:.0f}), interval {args.interval}")
        print(f"  samples per llama.cpp scrape {per_target:.0f}; rules loaded {rules}")
        print(f"  head series {head['numSeries']}; Prometheus RSS {rss_mib(prom.pid):.0f} MiB")
    finally:
        stop_process(prom, grace=10)
        stop_process(llama, grace=10)


if __name__ == "__main__":
    main()
