"""Gateway overhead against the same llama.cpp server in the same run, direct vs through
the gateway (both on 127.0.0.1):

- added latency per request with max_tokens 1 (p50, p99) — goals < 1 ms and < 5 ms;
- added time to first token when streaming;
- token throughput at 16 concurrent streams, gateway / direct — goal ≥ 0.97;
- gateway CPU per request (from /proc of the gateway process).

    uv run python bench/gateway_bench.py [--requests 200] [--ttft 40] [--streams 16] [--tokens 64]
        [--limits on|off --database-url URL] [--metrics on|off] [--log-level INFO]

`--limits on|off` (needs Postgres: `--database-url`, default $DATABASE_URL; a scratch database
is created beside it and dropped after) runs the gateway with its rate limits counting every
request (limits far above the load: requests, tokens and concurrency all checked, counters
synced every second) or with the same database and limits off. Without `--limits` the
gateway has no database, as before. `--metrics on|off` runs it with its Prometheus metrics
(GATEWAY_METRICS) on or off; `--log-level INFO` with the service's own log level, so its
access log is written (to a file beside the run, printed), WARNING (default) without it.
Alternate the runs (on, off, on, off) and compare paired medians.

Everything is bounded in count and time and stops by itself. Requests alternate between
direct and gateway so drift on the shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from inference_localstack import llama_server
from inference_localstack.embedded_model import REGISTRY_NAME, embedded_model_path
from inference_testkit.database import create_database, drop_database
from inference_testkit.servers import free_port, stop_process, wait_http_ok

HERE = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


RATE_LIMIT_LIMITS_ON = {
    "GATEWAY_RATE_LIMITS": "true",
    "RATE_LIMIT_REQUESTS_PER_MINUTE": str(10**9),
    "RATE_LIMIT_TOKENS_PER_MINUTE": str(10**12),
    "RATE_LIMIT_CONCURRENT_REQUESTS": str(10**5),
    "GATEWAY_RATE_SYNC_SECONDS": "1",
}

BODY = {"messages": [{"role": "user", "content": "Say one word."}], "temperature": 0}


async def one(client: httpx.AsyncClient, base: str) -> float:
    started = time.perf_counter()
    response = await client.post(
        base + "/v1/chat/completions", json={**BODY, "model": REGISTRY_NAME, "max_tokens": 1}
    )
    response.raise_for_status()
    return time.perf_counter() - started


async def ttft(client: httpx.AsyncClient, base: str) -> float:
    started = time.perf_counter()
    async with client.stream(
        "POST",
        base + "/v1/chat/completions",
        json={**BODY, "model": REGISTRY_NAME, "max_tokens": 4, "stream": True},
    ) as response:
        elapsed: float | None = None
        async for line in response.aiter_lines():
            if (
                elapsed is None
                and line.startswith("data: ")
                and '"content":"' in line
                and ('"content":""' not in line)
            ):
                elapsed = time.perf_counter() - started
    if elapsed is None:
        raise RuntimeError("stream produced no content")
    return elapsed


async def stream_tokens(client: httpx.AsyncClient, base: str, tokens: int) -> int:
    """Generated tokens of one stream, as the server's own usage report counts them."""
    count = 0
    async with client.stream(
        "POST",
        base + "/v1/chat/completions",
        json={
            "messages": [{"role": "user", "content": "Tell me a long story."}],
            "model": REGISTRY_NAME,
            "max_tokens": tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            "ignore_eos": True,
            "temperature": 1.0,
        },
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: {") and '"usage":{' in line:
                count = int(json.loads(line[6:])["usage"]["completion_tokens"])
    return count


async def throughput(client: httpx.AsyncClient, base: str, streams: int, tokens: int) -> float:
    started = time.perf_counter()
    counts = await asyncio.gather(*[stream_tokens(client, base, tokens) for _ in range(streams)])
    return sum(counts) / (time.perf_counter() - started)


async def run(args: argparse.Namespace, direct: str, gateway: str, gateway_pid: int) -> None:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        for base in (direct, gateway):  # warm up connections and the prompt cache
            for _ in range(5):
                await one(client, base)

        direct_lat: list[float] = []
        gateway_lat: list[float] = []
        cpu_before = cpu_seconds(gateway_pid)
        for _ in range(args.requests):
            direct_lat.append(await one(client, direct))
            gateway_lat.append(await one(client, gateway))
        cpu_per_request = (cpu_seconds(gateway_pid) - cpu_before) / args.requests

        direct_ttft: list[float] = []
        gateway_ttft: list[float] = []
        for _ in range(args.ttft):
            direct_ttft.append(await ttft(client, direct))
            gateway_ttft.append(await ttft(client, gateway))

        await throughput(client, direct, args.streams, 8)  # warm-up: all slots, both paths
        await throughput(client, gateway, args.streams, 8)
        direct_tps = await throughput(client, direct, args.streams, args.tokens)
        gateway_tps = await throughput(client, gateway, args.streams, args.tokens)
        direct_tps2 = await throughput(client, direct, args.streams, args.tokens)
        gateway_tps2 = await throughput(client, gateway, args.streams, args.tokens)

    ms = 1000.0
    d50, d99 = percentile(direct_lat, 50), percentile(direct_lat, 99)
    g50, g99 = percentile(gateway_lat, 50), percentile(gateway_lat, 99)
    paired = [g - d for g, d in zip(gateway_lat, direct_lat, strict=True)]
    print(f"max_tokens=1 latency over {args.requests} requests each:")
    print(f"  direct  p50 {d50 * ms:.2f} ms  p99 {d99 * ms:.2f} ms")
    print(f"  gateway p50 {g50 * ms:.2f} ms  p99 {g99 * ms:.2f} ms")
    print(
        f"  added   p50 {(g50 - d50) * ms:.2f} ms  p99 {(g99 - d99) * ms:.2f} ms"
        f"  (paired median {statistics.median(paired) * ms:.2f} ms)"
    )
    print(f"TTFT streaming over {args.ttft} requests each:")
    print(
        f"  direct  p50 {percentile(direct_ttft, 50) * ms:.2f} ms"
        f"  gateway p50 {percentile(gateway_ttft, 50) * ms:.2f} ms"
        f"  added p50 {(percentile(gateway_ttft, 50) - percentile(direct_ttft, 50)) * ms:.2f} ms"
    )
    ratio = (gateway_tps + gateway_tps2) / (direct_tps + direct_tps2)
    print(f"throughput at {args.streams} streams x {args.tokens} tokens (2 rounds, alternating):")
    print(
        f"  direct {direct_tps:.1f}/{direct_tps2:.1f} tok/s  gateway {gateway_tps:.1f}/"
        f"{gateway_tps2:.1f} tok/s  ratio {ratio:.3f}"
    )
    print(f"gateway CPU per request (max_tokens=1, non-stream): {cpu_per_request * ms:.3f} ms")


def start_llama(port: int, slots: int) -> subprocess.Popen[bytes]:
    """llama.cpp with the embedded model on 127.0.0.1:`port`, `slots` parallel slots."""
    return subprocess.Popen(
        llama_server.command(
            str(embedded_model_path()),
            "127.0.0.1",
            port,
            *("-c", str(512 * slots), "-np", str(slots), "-t", "1", "--no-webui"),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--ttft", type=int, default=40)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--limits", choices=("on", "off"), default=None)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--metrics", choices=("on", "off"), default="on")
    parser.add_argument("--log-level", choices=("INFO", "WARNING"), default="WARNING")
    args = parser.parse_args()

    database = ""
    env = dict(os.environ)
    if args.limits is not None:
        if not args.database_url:
            parser.error("--limits needs --database-url (or DATABASE_URL)")
        database = create_database(args.database_url, f"bench_limits_{os.getpid()}")
        env.update(
            RATE_LIMIT_LIMITS_ON if args.limits == "on" else {"GATEWAY_RATE_LIMITS": "false"}
        )
        print(f"rate limits {args.limits}")
    env["GATEWAY_METRICS"] = "true" if args.metrics == "on" else "false"
    env["LOG_LEVEL"] = args.log_level
    print(f"metrics {args.metrics}, log level {args.log_level}")
    gateway_log = Path(tempfile.mkdtemp(prefix="gateway-bench-")) / "gateway.log"
    llama_port, gateway_port = free_port(), free_port()
    llama = start_llama(llama_port, args.streams)
    print(f"gateway log: {gateway_log}")
    log_file = gateway_log.open("ab")
    gateway = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "gateway_static.py"),
            str(gateway_port),
            REGISTRY_NAME,
            "127.0.0.1",
            str(llama_port),
            database,
        ],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http_ok(f"http://127.0.0.1:{llama_port}/health")
        wait_http_ok(f"http://127.0.0.1:{gateway_port}/healthz")
        asyncio.run(
            run(
                args,
                f"http://127.0.0.1:{llama_port}",
                f"http://127.0.0.1:{gateway_port}",
                gateway.pid,
            )
        )
    finally:
        stop_process(gateway)
        log_file.close()
        stop_process(llama)
        if database:
            drop_database(database)


if __name__ == "__main__":
    main()
