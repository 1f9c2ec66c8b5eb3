"""GET /status with N servers (default 1,000): p50 / p99 latency. Goal: p99 < 50 ms.

    uv run python bench/api_status_bench.py [--servers 1000] [--requests 300]

Runs against the local stack (make up) with a throwaway database; the API runs as a real
uvicorn process, the servers are rows owned by the admin (as the status watch writes them).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).parent))

from api_common import (
    ADMIN,
    api_process,
    login,
    percentile,
    stack_env,
    throwaway_bucket,
    throwaway_database,
)

from inference_common.auth import hash_password
from inference_common.db import make_engine
from inference_common.tables import Server, User
from inference_testkit.object_store import minio_from_env


async def seed(database_url: str, servers: int, password: str) -> None:
    engine = make_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            insert(User).values(
                id=uuid.uuid4(),
                username=ADMIN,
                password_hash=hash_password(password),
                role="admin",
                is_active=True,
            )
        )
        admin_id = (await connection.execute(select(User.id))).scalar_one()
        rows = []
        for i in range(servers):
            server_uuid = uuid.uuid4()
            rows.append(
                {
                    "uuid": server_uuid,
                    "name": f"bench-{i}-{str(server_uuid)[:8]}",
                    "namespace": "inference",
                    "model_uuid": None,
                    "model_name": f"bench-model-{i % 20}:7b",
                    "owner_id": admin_id,
                    "replicas": 1 + i % 3,
                    "gpu": {"count": 1, "product": "NVIDIA-GeForce-RTX-4090"},
                    "runtime": {"contextSize": 8192, "gpuLayers": 999, "extraArgs": []},
                    "phase": "Ready" if i % 5 else "Pending",
                    "ready_replicas": 1,
                    "endpoint": f"/{server_uuid}/",
                    "reasons": ["Unschedulable: Insufficient nvidia.com/gpu"],
                    "conditions": [
                        {"type": "Ready", "status": "True", "reason": "Ready"},
                        {
                            "type": "Scheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": "Insufficient nvidia.com/gpu",
                        },
                    ],
                }
            )
        await connection.execute(insert(Server), rows)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    env = stack_env()
    password = secrets.token_urlsafe(18)
    with throwaway_database(env) as database_url, throwaway_bucket(minio_from_env(env)) as bucket:
        asyncio.run(seed(database_url, args.servers, password))
        with api_process(env, database_url, bucket, password, WATCH_MODELSERVES="false") as (
            url,
            _pid,
        ):
            headers = login(url, password)
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                first = client.get("/status")
                first.raise_for_status()
                assert len(first.json()) == args.servers, len(first.json())
                for _ in range(20):  # warm-up
                    client.get("/status").raise_for_status()
                latencies = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    response = client.get("/status")
                    latencies.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
    latencies.sort()
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    size_kib = len(first.content) / 1024
    print(
        f"GET /status, {args.servers} servers ({size_kib:.0f} KiB), {args.requests} requests: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms "
        f"(goal p99 < 50 ms: {'met' if p99 < 50 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
