"""POST /evaluate with N reservations held by U users (default 1,000 and 100): p50 / p99
latency. Goal: p99 < 20 ms.

    uv run python bench/contract_evaluate_bench.py [--servers 1000] [--users 100] [--requests 500]

Runs against the local stack's Postgres (make up) with a throwaway database; the contract
service runs as a real uvicorn process (no reconcile: the reservations are seeded rows).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).parent))

from api_common import cpu_seconds, percentile, stack_env, throwaway_database

from inference_common.auth import TokenSigner
from inference_common.db import make_engine
from inference_common.tables import Reservation, User, UserContract
from inference_testkit.servers import free_port, http_process

NAMESPACES = 10


async def seed(database_url: str, servers: int, users: int) -> list[tuple[str, str]]:
    """Users (with contracts) and their reservations; returns (user id, username) pairs."""
    people = [(str(uuid.uuid4()), f"bench-user-{i}") for i in range(users)]
    engine = make_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            insert(User),
            [
                {
                    "id": uuid.UUID(i),
                    "username": n,
                    "password_hash": "x",
                    "role": "user",
                    "is_active": True,
                }
                for i, n in people
            ],
        )
        await connection.execute(
            insert(UserContract),
            [
                {
                    "username": n,
                    "max_servers": 1000,
                    "max_gpus": 1000,
                    "allowed_namespaces": [f"team-{k}" for k in range(NAMESPACES)],
                }
                for _, n in people
            ],
        )
        await connection.execute(
            insert(Reservation),
            [
                {
                    "id": uuid.uuid4(),
                    "namespace": f"team-{s % NAMESPACES}",
                    "name": f"server-{s}",
                    "server_uuid": str(uuid.uuid4()),
                    "owner": people[s % users][1],
                    "model_name": "smollm2:135m",
                    "replicas": 1 + s % 3,
                    "gpus_per_replica": s % 2,
                    "gpu_memory_gib_per_gpu": 24 if s % 2 else 0,
                    "source": "api",
                }
                for s in range(servers)
            ],
        )
    await engine.dispose()
    return people


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    env = stack_env()
    secret = secrets.token_urlsafe(48)
    with throwaway_database(env) as database_url:
        people = asyncio.run(seed(database_url, args.servers, args.users))
        signer = TokenSigner(secret)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process_env = {
            "PATH": os.environ.get("PATH", ""),
            "DATABASE_URL": database_url,
            "JWT_SECRET": secret,
            "RUN_MIGRATIONS": "false",
            "WATCH_MODELSERVES": "false",
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
        with (
            http_process(
                [sys.executable, "-m", "inference_contract.main"], process_env, f"{url}/health"
            ) as process,
            httpx.Client(base_url=url, timeout=30) as client,
        ):
            headers = [{"Authorization": f"Bearer {signer.issue(i, n, 'user')}"} for i, n in people]
            spec = {
                "model": {
                    "name": "smollm2:135m",
                    "source": {"pvc": {"claimName": "c", "path": "m.gguf"}},
                },
                "replicas": 2,
                "gpu": {"count": 1},
            }
            for i in range(20):  # warm-up: connections, caches
                client.post(
                    "/evaluate",
                    json={"namespace": "team-0", "name": "w", "spec": spec},
                    headers=headers[i % len(headers)],
                )
            latencies: list[float] = []
            cpu_before = cpu_seconds(process.pid)
            for i in range(args.requests):
                body = {"namespace": f"team-{i % NAMESPACES}", "name": f"new-{i}", "spec": spec}
                started = time.perf_counter()
                response = client.post("/evaluate", json=body, headers=headers[i % len(headers)])
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200 or not response.json()["allowed"]:
                    raise SystemExit(f"unexpected answer: {response.status_code} {response.text}")
            cpu_ms = (cpu_seconds(process.pid) - cpu_before) * 1000 / args.requests
    latencies.sort()
    print(
        f"POST /evaluate, {args.servers} servers, {args.users} users, {args.requests} requests: "
        f"p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms; "
        f"service CPU {cpu_ms:.1f} ms per request (load-independent; see `uptime`)"
    )


if __name__ == "__main__":
    main()
