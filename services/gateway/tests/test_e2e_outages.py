"""The gateway's Postgres (a throwaway one of this test, never the stack's) stopped under
load: every API answers 503 in its own error shape naming the database, with Retry-After;
credentials checked before the outage keep working, and the gateway recovers by itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from inference_common.auth import TokenSigner
from inference_testkit.throwaway import ThrowawayPostgres
from inference_testkit.waiting import async_wait_for

from .conftest import JWT_SECRET, MODEL, Cluster, GatewayFactory, Replica, create_user

CHAT = [{"role": "user", "content": "Hi"}]


@dataclass(frozen=True)
class Probe:
    """One request of an API family, and its outage answer."""

    method: str
    path: str
    json: dict[str, Any] | None
    unavailable: dict[str, Any]


PROBES = [
    Probe(
        "GET",
        "/v1/models",
        None,
        {
            "error": {
                "message": "database unavailable",
                "type": "server_error",
                "param": None,
                "code": "service_unavailable",
            }
        },
    ),
    Probe(
        "POST",
        "/v1/messages",
        {"model": "absent:1b", "max_tokens": 1, "messages": CHAT},
        {"type": "error", "error": {"type": "overloaded_error", "message": "database unavailable"}},
    ),
    Probe("GET", "/api/tags", None, {"error": "database unavailable"}),
    Probe(
        "POST",
        "/generate",
        {"inputs": "Hi", "model": "absent:1b"},
        {"error": "database unavailable", "error_type": "overloaded"},
    ),
]


@dataclass(frozen=True)
class Answer:
    started: float
    probe: Probe
    status: int
    body: Any
    retry_after: str | None


async def _load(
    count: int,
    per_second: float,
    request: Callable[[int], Awaitable[tuple[Probe, httpx.Response]]],
    halfway: asyncio.Event,
) -> list[Answer]:
    """`count` requests started at `per_second`; `halfway` is set once a quarter are answered."""
    answers: list[Answer] = []
    begin = time.monotonic()

    async def one(index: int) -> None:
        await asyncio.sleep(max(0.0, begin + index / per_second - time.monotonic()))
        started = time.monotonic()
        probe, response = await request(index)
        answers.append(
            Answer(
                started,
                probe,
                response.status_code,
                response.json(),
                response.headers.get("retry-after"),
            )
        )
        if len(answers) == count // 4:
            halfway.set()

    await asyncio.gather(*(one(i) for i in range(count)))
    return answers


async def _stop_midway(halfway: asyncio.Event, stop: Callable[[], None]) -> float:
    await halfway.wait()
    await asyncio.to_thread(stop)
    return time.monotonic()


async def test_postgres_stopped_under_load(
    cluster: Cluster,
    replicas: list[Replica],
    gateway_factory: GatewayFactory,
    throwaway_postgres: ThrowawayPostgres,
) -> None:
    cluster.serve("smol", MODEL, [replicas[0].ip])
    gw = await gateway_factory(database_url=throwaway_postgres.url, GATEWAY_AUTH_CACHE_SECONDS=600)
    await gw.wait_routable(MODEL)
    user = str(await create_user(throwaway_postgres.url))
    signer = TokenSigner(JWT_SECRET)
    cached = {"Authorization": f"Bearer {signer.issue(user, 'cached', 'user')}"}
    completion = {"model": MODEL, "prompt": "Hello", "max_tokens": 2}
    first = await gw.client.post("/v1/completions", headers=cached, json=completion)
    assert first.status_code == 200, first.text

    async def request(index: int) -> tuple[Probe, httpx.Response]:
        """Each request with a credential the gateway has not seen: it must ask Postgres."""
        probe = PROBES[index % len(PROBES)]
        token = signer.issue(user, f"load-{index}", "user")
        response = await gw.client.request(
            probe.method, probe.path, json=probe.json, headers={"Authorization": f"Bearer {token}"}
        )
        return probe, response

    halfway = asyncio.Event()
    answers, down_at = await asyncio.gather(
        _load(160, 40, request, halfway),  # over 4 s
        _stop_midway(halfway, throwaway_postgres.stop),
    )
    assert {a.status for a in answers if a.started < down_at - 1} <= {200, 404}
    during = [a for a in answers if a.started > down_at]
    assert len(during) >= 40
    for answer in during:
        assert answer.status == 503, answer
        assert answer.retry_after == "5", answer
        assert answer.body == answer.probe.unavailable, answer

    still = await gw.client.post("/v1/completions", headers=cached, json=completion)
    assert still.status_code == 200, still.text

    await asyncio.to_thread(throwaway_postgres.start)

    async def recovered() -> bool:
        _, response = await request(10_000)
        return response.status_code == 200

    await async_wait_for(recovered, timeout=30, what="the gateway to reach Postgres again")
