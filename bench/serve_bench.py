"""Serving benchmark on the local stack (issue: serve for real on one machine).

1. Time from POST /serve to the first streamed token through Traefik, with the model
   already in the node's cache and without it.
2. Decode throughput through Traefik vs directly against the pod's llama.cpp server, at 1
   and 8 concurrent streams, in the same run, as a ratio.

    make up && uv run python bench/serve_bench.py [--tokens 64] [--rounds 3]

Traffic goes only to 127.0.0.1 (API, Traefik) and to the pod's own address in the stack's
network namespace. Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from inference_common.kube import api_client
from inference_common.modelserve import SERVER_UUID_LABEL
from inference_localstack.config import StackConfig
from inference_localstack.embedded_model import REGISTRY_NAME, embedded_model_path
from inference_localstack.stack import read_env

PROMPT = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]


def login(env: dict[str, str]) -> httpx.Client:
    http = httpx.Client(base_url=env["API_URL"], timeout=60)
    token = (
        http.post(
            "/auth/token",
            json={"username": env["ADMIN_USERNAME"], "password": env["ADMIN_PASSWORD"]},
        )
        .raise_for_status()
        .json()["access_token"]
    )
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def evict_cache() -> None:
    digest = hashlib.sha256(embedded_model_path().read_bytes()).hexdigest()
    for path in (StackConfig().data_dir("node") / "model-cache").glob(f"{digest}*"):
        path.unlink()


def first_token_seconds(api: httpx.Client, traefik: str, runtime_params: str) -> tuple[float, str]:
    """POST /serve, then stream through Traefik until the first token arrives (≤ 180 s)."""
    started = time.monotonic()
    served = (
        api.post(
            "/serve",
            json={"model_name": REGISTRY_NAME, "replicas": 1, "runtime_params": runtime_params},
        )
        .raise_for_status()
        .json()
    )
    url = f"{traefik}{served['endpoint']}v1/chat/completions"
    body = {"messages": PROMPT, "max_tokens": 4, "stream": True}
    deadline = started + 180
    while time.monotonic() < deadline:
        try:
            with httpx.stream(
                "POST", url, json=body, headers=credential(api), timeout=30
            ) as response:
                if response.status_code == 200:
                    for line in response.iter_lines():
                        if line.startswith("data: ") and '"content"' in line:
                            return time.monotonic() - started, served["server_uuid"]
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError("no token within 180 s")


def credential(api: httpx.Client) -> dict[str, str]:
    """The API client's token: routes through Traefik take the gateway's credentials."""
    return {"Authorization": api.headers["Authorization"]}


async def decode_rate(
    url: str, streams: int, tokens: int, headers: dict[str, str] | None = None
) -> float:
    """Completion tokens per second over `streams` concurrent streams of `tokens` tokens."""
    body = {
        "messages": PROMPT,
        "max_tokens": tokens,
        "stream": True,
        "ignore_eos": True,
        "temperature": 0,
    }

    async def one(http: httpx.AsyncClient) -> int:
        count = 0
        async with http.stream("POST", url, json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    choices = json.loads(line[6:]).get("choices") or [{}]
                    if (choices[0].get("delta") or {}).get("content"):
                        count += 1
        return count

    async with httpx.AsyncClient(timeout=300, headers=headers) as http:
        started = time.monotonic()
        counts = await asyncio.gather(*(one(http) for _ in range(streams)))
        return sum(counts) / (time.monotonic() - started)


def pod_url(kube: client.ApiClient, server_uuid: str) -> str:
    pods = (
        client.CoreV1Api(kube)
        .list_namespaced_pod("inference", label_selector=f"{SERVER_UUID_LABEL}={server_uuid}")
        .items
    )
    return f"http://{pods[0].status.pod_ip}:8080/v1/chat/completions"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = read_env(StackConfig())
    api, kube = login(env), api_client(env["KUBECONFIG"])
    results: dict[str, Any] = {}

    params = "-c 4096 --parallel 8"  # 8 slots for the 8-stream measurement
    evict_cache()
    results["first_token_uncached_s"], uuid = first_token_seconds(api, env["TRAEFIK_URL"], params)
    api.delete(f"/stop/{uuid}").raise_for_status()
    results["first_token_cached_s"], uuid = first_token_seconds(api, env["TRAEFIK_URL"], params)
    try:
        direct = pod_url(kube, uuid)
        routed = f"{env['TRAEFIK_URL']}/{uuid}/v1/chat/completions"
        for streams in (1, 8):
            rates: dict[str, list[float]] = {"direct": [], "traefik": []}
            for _ in range(args.rounds):  # interleaved, so drift hits both alike
                rates["direct"].append(asyncio.run(decode_rate(direct, streams, args.tokens)))
                rates["traefik"].append(
                    asyncio.run(decode_rate(routed, streams, args.tokens, credential(api)))
                )
            d, t = statistics.median(rates["direct"]), statistics.median(rates["traefik"])
            results[f"decode_tok_s_direct_{streams}"] = round(d, 1)
            results[f"decode_tok_s_traefik_{streams}"] = round(t, 1)
            results[f"ratio_{streams}"] = round(t / d, 3)
    finally:
        api.delete(f"/stop/{uuid}")
    results = {k: round(v, 2) if isinstance(v, float) else v for k, v in results.items()}
    print(json.dumps(results, indent=2))
    Path(".local/bench-serve.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
