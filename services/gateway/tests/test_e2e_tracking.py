"""Request ids, GET /api/progress/{id} while and after a request runs, and metrics."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY

from inference_testkit.waiting import async_wait_for

from .conftest import MODEL, Cluster, GatewayFactory, Replica, RunningGateway


async def test_progress_while_running_and_after(gateway: RunningGateway) -> None:
    async with (
        httpx.AsyncClient(base_url=gateway.url, timeout=60) as http,
        http.stream(
            "POST",
            "/v1/chat/completions",
            headers={**gateway.auth, "x-request-id": "req-progress-1"},
            json={
                "model": MODEL,
                "messages": [{"role": "user", "content": "Story"}],
                "max_tokens": 40,
                "stream": True,
                "ignore_eos": True,
            },
        ) as response,
    ):
        assert response.headers["x-request-id"] == "req-progress-1"
        lines = response.aiter_lines()
        await lines.__anext__()
        running = (
            await gateway.client.get("/api/progress/req-progress-1", headers=gateway.auth)
        ).json()
        assert running["state"] == "running"
        assert running["model"] == MODEL
        assert running["tokens"] >= 1
        async for _ in lines:
            pass
    done = (await gateway.client.get("/api/progress/req-progress-1", headers=gateway.auth)).json()
    assert done["state"] == "done"
    assert done["tokens"] == 40
    assert done["time_to_first_token_seconds"] is not None
    assert done["tokens_per_second"] > 0


async def test_progress_of_unknown_or_foreign_request_is_404(gateway: RunningGateway) -> None:
    response = await gateway.client.get("/api/progress/nope", headers=gateway.auth)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


async def test_metrics_by_api_model_status(gateway: RunningGateway) -> None:
    await gateway.client.post(
        "/api/generate",
        headers=gateway.auth,
        json={"model": MODEL, "prompt": "hi", "stream": False, "options": {"num_predict": 2}},
    )
    await gateway.client.post(
        "/api/generate", headers=gateway.auth, json={"model": "missing:1b", "prompt": "hi"}
    )

    async def scraped() -> str | None:
        text = (await gateway.client.get("/metrics")).text
        return text if 'gateway_requests_total{api="ollama",model="smollm2:135m"' in text else None

    text = await async_wait_for(scraped, timeout=10, what="metrics")
    assert 'gateway_requests_total{api="ollama",model="smollm2:135m",status="200"}' in text
    assert 'gateway_errors_total{api="ollama",kind="not_found",model="-"}' in text
    assert "gateway_time_to_first_token_seconds_bucket" in text
    assert "gateway_tokens_per_second_bucket" in text
    assert "gateway_upstream_latency_seconds_bucket" in text
    assert 'gateway_in_flight_requests{api="ollama",model="smollm2:135m"} 0.0' in text


async def test_metrics_off_keeps_progress_and_serves_no_metrics(
    gateway_factory: GatewayFactory, cluster: Cluster, replicas: list[Replica]
) -> None:
    cluster.serve("smol", MODEL, [replicas[0].ip])
    gw: RunningGateway = await gateway_factory(GATEWAY_METRICS=False)
    await gw.wait_routable(MODEL)

    def served() -> float | None:
        labels = {"api": "ollama", "model": MODEL, "status": "200"}
        return REGISTRY.get_sample_value("gateway_requests_total", labels)

    before = served()
    answer = await gw.client.post(
        "/api/generate",
        headers={**gw.auth, "x-request-id": "req-no-metrics"},
        json={"model": MODEL, "prompt": "hi", "stream": False, "options": {"num_predict": 2}},
    )
    assert answer.status_code == 200
    done = (await gw.client.get("/api/progress/req-no-metrics", headers=gw.auth)).json()
    assert done["state"] == "done"
    assert (await gw.client.get("/metrics")).status_code == 404
    assert served() == before  # the in-process gateways share one registry
