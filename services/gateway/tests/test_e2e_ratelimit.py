"""Rate limits against real `inference-gateway` processes and Postgres: a key over its
request rate gets 429 in every API's own shape (and on ForwardAuth) and recovers in the next
window; tokens (prompt + completion, from a real llama.cpp replica) count against a token
rate; a key's concurrent requests are capped; two gateway processes share one limit.

Windows are short (RATE_LIMIT_WINDOW_SECONDS) and the replicas sync every 0.2 s; a test
that needs several requests in one window first waits for a fresh one."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.pool import NullPool

from inference_common.auth import api_key_prefix
from inference_common.db import make_engine, make_sessionmaker
from inference_common.rate_windows import reset_in, scaled
from inference_common.tables import ApiKey, RateCounter
from inference_testkit.servers import free_port, http_process
from inference_testkit.waiting import wait_for

from .conftest import JWT_SECRET, MODEL, Cluster, Replica, create_api_key

WINDOW = 6.0
SYNC = 0.2
UNKNOWN = "no-such-model"
MESSAGES = [{"role": "user", "content": "hi"}]
LONG = {  # a stream that stays open for a while
    "model": MODEL,
    "messages": [{"role": "user", "content": "List the numbers from 1 to 300."}],
    "max_tokens": 300,
    "stream": True,
}

# (API, path, body) — every POST API the gateway speaks; an admitted request to an unknown
# model is that API's not-found (TGI, which names no model, gets 503: nothing is served)
APIS: list[tuple[str, str, dict[str, Any]]] = [
    ("openai", "/v1/chat/completions", {"model": UNKNOWN, "messages": MESSAGES}),
    ("ollama", "/api/chat", {"model": UNKNOWN, "messages": MESSAGES}),
    ("tgi", "/generate", {"inputs": "hi"}),
    ("anthropic", "/v1/messages", {"model": UNKNOWN, "max_tokens": 4, "messages": MESSAGES}),
]


@dataclass
class Gateway:
    url: str

    def post(self, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            self.url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=120
        )


Starter = Callable[..., list[Gateway]]


@pytest.fixture
def start_gateways(
    stack_env: dict[str, str], database_url: str, tmp_path: Path
) -> Iterator[Starter]:
    """Starts `count` gateway processes on one database, watching `namespace`."""
    with ExitStack() as stack:

        def start(count: int, namespace: str = "gateway-ratelimit-none") -> list[Gateway]:
            started = []
            for index in range(count):
                port = free_port()
                env = {
                    **os.environ,
                    "DEV_MODE": "true",
                    "DATABASE_URL": database_url,
                    "KUBECONFIG": stack_env["KUBECONFIG"],
                    "JWT_SECRET": JWT_SECRET,
                    "GATEWAY_PORT": str(port),
                    "GATEWAY_WATCH_NAMESPACE": namespace,
                    "GATEWAY_UPSTREAM_CIDRS": "10.244.0.0/24",
                    "GATEWAY_RATE_SYNC_SECONDS": str(SYNC),
                    "RATE_LIMIT_WINDOW_SECONDS": str(WINDOW),
                }
                entry = str(Path(sys.executable).parent / "inference-gateway")
                url = f"http://127.0.0.1:{port}"
                stack.enter_context(
                    http_process(
                        [entry], env, f"{url}/readyz", log=tmp_path / f"gateway-{index}.log"
                    )
                )
                started.append(Gateway(url))
            return started

        yield start


def key_with(database_url: str, **limits: int) -> str:
    return asyncio.run(create_api_key(database_url, rate_limits=limits))


def per_minute(per_window: int) -> int:
    """The per-minute limit that allows `per_window` requests in one test window."""
    value = math.ceil(per_window * 60 / WINDOW)
    assert scaled(value, WINDOW) == per_window
    return value


def fresh_window(needed: float) -> None:
    """Waits (bounded by one window) until the current window has `needed` seconds left."""
    wait_for(lambda: reset_in(time.time(), WINDOW) > needed, timeout=WINDOW + 1, interval=0.05)


def key_counter(database_url: str, key: str) -> tuple[int, int]:
    """The key's requests and tokens in the current window, as flushed to Postgres."""

    async def read() -> tuple[int, int]:
        engine = make_engine(database_url, poolclass=NullPool)
        try:
            async with make_sessionmaker(engine)() as session:
                key_ids = (
                    await session.scalars(
                        select(ApiKey.id).where(ApiKey.prefix == api_key_prefix(key))
                    )
                ).all()
                subjects = [f"key:{key_id}" for key_id in key_ids]
                row = (
                    await session.execute(
                        select(RateCounter.requests, RateCounter.tokens).where(
                            RateCounter.subject.in_(subjects),
                            RateCounter.window == int(time.time() // WINDOW),
                        )
                    )
                ).one_or_none()
                return (int(row.requests), int(row.tokens)) if row is not None else (0, 0)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def assert_rate_limited(api: str, answer: httpx.Response, limit: int) -> None:
    assert answer.status_code == 429, answer.text
    assert 1 <= int(answer.headers["retry-after"]) <= math.ceil(WINDOW)
    assert answer.headers["x-ratelimit-limit-requests"] == str(limit)
    assert answer.headers["x-ratelimit-remaining-requests"] == "0"
    assert answer.headers["x-ratelimit-reset-requests"].endswith("s")
    body = answer.json()
    if api == "openai":
        assert body["error"]["code"] == "rate_limit_exceeded"
        assert body["error"]["type"] == "rate_limit_error"
        assert "rate limit reached for requests" in body["error"]["message"]
    elif api == "ollama":
        assert set(body) == {"error"}
        assert "rate limit reached" in body["error"]
    elif api == "tgi":
        assert body["error_type"] == "overloaded"
        assert "rate limit reached" in body["error"]
    else:
        assert body["type"] == "error"
        assert body["error"]["type"] == "rate_limit_error"


def test_a_key_over_its_request_rate_gets_429_on_every_api_and_recovers(
    start_gateways: Starter, database_url: str
) -> None:
    (gateway,) = start_gateways(1)
    limit = 3
    key = key_with(database_url, requests_per_minute=per_minute(limit))
    fresh_window(WINDOW - 1.5)
    admitted = [gateway.post(key, path, body) for _, path, body in APIS[:limit]]
    assert [a.status_code for a in admitted] == [404, 404, 503]
    for api, path, body in APIS:
        assert_rate_limited(api, gateway.post(key, path, body), limit)
    refused = httpx.get(
        gateway.url + "/authz/servers/00000000-0000-0000-0000-000000000000",
        headers={"Authorization": f"Bearer {key}", "X-Forwarded-Uri": "/x/v1/models"},
    )
    assert_rate_limited("openai", refused, limit)
    # the next window admits again (bounded: one window and a little)
    recovered = wait_for(
        lambda: (a := gateway.post(key, *APIS[0][1:])).status_code != 429 and a,
        timeout=WINDOW + 2,
        interval=0.25,
        what="the next window",
    )
    assert recovered.status_code == 404


def test_two_gateway_processes_share_one_limit(start_gateways: Starter, database_url: str) -> None:
    first, second = start_gateways(2)
    limit = 4
    key = key_with(database_url, requests_per_minute=per_minute(limit))
    _, path, body = APIS[0]
    fresh_window(WINDOW - 2.5)
    assert [first.post(key, path, body).status_code for _ in range(limit)] == [404] * limit
    assert first.post(key, path, body).status_code == 429
    wait_for(
        lambda: key_counter(database_url, key)[0] == limit,
        timeout=2,
        interval=0.05,
        what="the first gateway's counts flushed",
    )
    # the second gateway reads the shared total at its next sync (≤ 0.2 s later); requests
    # one sync interval apart can pass at most once before it does
    answers: list[int] = []
    wait_for(
        lambda: answers.append(second.post(key, path, body).status_code) or answers[-1] == 429,
        timeout=2,
        interval=SYNC,
        what="the second gateway refusing",
    )
    assert answers.count(404) <= 1, answers


def _served(cluster: Cluster, replicas: list[Replica]) -> str:
    cluster.serve("smol", MODEL, [replicas[0].ip])
    return cluster.namespace


def _wait_routable(gateway: Gateway, key: str) -> None:
    def routable() -> bool:
        models = httpx.get(
            gateway.url + "/v1/models", headers={"Authorization": f"Bearer {key}"}
        ).json()
        return any(m["id"] == MODEL for m in models.get("data", []))

    wait_for(routable, timeout=60, interval=0.1, what=f"{MODEL} routable")


def test_tokens_count_prompt_and_completion_against_the_token_rate(
    start_gateways: Starter, database_url: str, cluster: Cluster, replicas: list[Replica]
) -> None:
    (gateway,) = start_gateways(1, _served(cluster, replicas))
    budget = 10  # tokens per window: one request of any real prompt spends it
    key = key_with(database_url, tokens_per_minute=per_minute(budget))
    _wait_routable(gateway, key)
    fresh_window(WINDOW - 3)
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 4}
    first = gateway.post(key, "/v1/chat/completions", body)
    assert first.status_code == 200, first.text
    assert first.headers["x-ratelimit-limit-tokens"] == str(budget)
    usage = first.json()["usage"]
    spent = usage["prompt_tokens"] + usage["completion_tokens"]
    assert spent > budget
    refused = gateway.post(key, "/api/chat", {**body, "stream": False})
    assert refused.status_code == 429, refused.text
    assert refused.headers["x-ratelimit-remaining-tokens"] == "0"
    assert "rate limit reached for tokens" in refused.json()["error"]
    flushed = wait_for(lambda: key_counter(database_url, key)[1] or None, timeout=2, interval=0.05)
    assert flushed == spent


def test_a_key_s_concurrent_requests_are_capped(
    start_gateways: Starter, database_url: str, cluster: Cluster, replicas: list[Replica]
) -> None:
    (gateway,) = start_gateways(1, _served(cluster, replicas))
    key = key_with(database_url, concurrent_requests=1)
    _wait_routable(gateway, key)
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=gateway.url, timeout=120) as http,
        http.stream("POST", "/v1/chat/completions", json=LONG, headers=headers) as streaming,
    ):
        assert streaming.status_code == 200
        lines = streaming.iter_lines()
        assert next(lines).startswith("data:")
        second = http.post("/v1/chat/completions", json=LONG, headers=headers)
        assert second.status_code == 429, second.text
        assert second.headers["retry-after"] == "1"
        assert "concurrent requests" in second.json()["error"]["message"]
        rest = [json.loads(line[5:]) for line in lines if line[5:].strip().startswith("{")]
        assert rest  # the first request went on to the end
    after = http_post_short(gateway, key)
    assert after.status_code == 200, after.text


def http_post_short(gateway: Gateway, key: str) -> httpx.Response:
    return gateway.post(
        key, "/v1/chat/completions", {"model": MODEL, "messages": MESSAGES, "max_tokens": 2}
    )


def test_a_request_in_flight_on_one_gateway_counts_on_the_other(
    start_gateways: Starter, database_url: str, cluster: Cluster, replicas: list[Replica]
) -> None:
    first, second = start_gateways(2, _served(cluster, replicas))
    key = key_with(database_url, concurrent_requests=1)
    _wait_routable(first, key)
    _wait_routable(second, key)
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=first.url, timeout=120) as http,
        http.stream("POST", "/v1/chat/completions", json=LONG, headers=headers) as streaming,
    ):
        assert streaming.status_code == 200
        lines = streaming.iter_lines()
        assert next(lines).startswith("data:")
        # the second gateway sees the first's lease at its next sync (≤ 0.2 s + the first's)
        refused = wait_for(
            lambda: (a := http_post_short(second, key)).status_code == 429 and a,
            timeout=3,
            interval=SYNC,
            what="the second gateway counting the first's request",
        )
        assert "concurrent requests" in refused.json()["error"]["message"]
        assert any(line.startswith("data:") for line in lines)
    # the lease is gone once the first request ended (next syncs of both)
    wait_for(
        lambda: http_post_short(second, key).status_code == 200,
        timeout=5,
        interval=SYNC,
        what="the lease released",
    )
