"""What any Python proxy in this stack adds on this machine, next to the gateway, against
the same llama.cpp server in the same run (requests interleaved, max_tokens 1):

- relay: a TCP relay, no HTTP (the cost of the extra hop itself);
- asgi: uvicorn + a bare ASGI app forwarding with aiohttp (no auth, routing or metrics);
- gateway: the gateway (bench/gateway_static.py).

    uv run python bench/gateway_floor.py [--requests 300]

Prints added p50/p99 per target against direct requests. Bounded in count and time;
everything listens on 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_bench import one, percentile, start_llama

from inference_localstack.embedded_model import REGISTRY_NAME
from inference_testkit.servers import free_port, stop_process, wait_http_ok

HERE = Path(__file__).resolve().parent


async def run(requests: int, direct: str, targets: dict[str, str]) -> None:
    timings: dict[str, list[float]] = {name: [] for name in ("direct", *targets)}
    bases = {"direct": direct, **targets}
    async with httpx.AsyncClient(timeout=60) as client:
        for base in bases.values():  # warm up connections and the prompt cache
            for _ in range(5):
                await one(client, base)
        for _ in range(requests):
            for name, base in bases.items():
                timings[name].append(await one(client, base))
    d50, d99 = percentile(timings["direct"], 50), percentile(timings["direct"], 99)
    print(f"max_tokens=1 over {requests} requests each; direct p50 {d50 * 1e3:.2f} ms")
    for name in targets:
        p50, p99 = percentile(timings[name], 50), percentile(timings[name], 99)
        print(f"  {name:8} added p50 {(p50 - d50) * 1e3:.2f} ms  p99 {(p99 - d99) * 1e3:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    llama_port = free_port()
    ports = {"relay": free_port(), "asgi": free_port(), "gateway": free_port()}
    processes = [start_llama(llama_port, 4)]
    try:
        for kind in ("relay", "asgi"):
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(HERE / "gateway_floor_servers.py"),
                        kind,
                        str(ports[kind]),
                        str(llama_port),
                    ]
                )
            )
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(HERE / "gateway_static.py"),
                    str(ports["gateway"]),
                    REGISTRY_NAME,
                    "127.0.0.1",
                    str(llama_port),
                ]
            )
        )
        for port in (llama_port, ports["relay"], ports["asgi"]):
            wait_http_ok(f"http://127.0.0.1:{port}/health")
        wait_http_ok(f"http://127.0.0.1:{ports['gateway']}/healthz")
        targets = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        asyncio.run(run(args.requests, f"http://127.0.0.1:{llama_port}", targets))
    finally:
        for process in reversed(processes):
            stop_process(process)


if __name__ == "__main__":
    main()
