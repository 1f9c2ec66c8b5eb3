"""GET /metrics/overview and GET /metrics/gpus: off (404) without Prometheus, 503 when it is
down, who may ask, bad windows refused; then against the stack's real Prometheus after real
traffic through the stack's gateway, and its real nodes (none reports GPU series here)."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx

from inference_api.metrics_overview import POINTS
from inference_testkit.servers import free_port
from inference_testkit.waiting import async_wait_for

from ..conftest import ApiFactory


def _error(response: Any, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == error_type
    return error


async def test_metrics_are_off_without_prometheus_and_503_when_it_is_down(
    api_factory: ApiFactory,
) -> None:
    async with api_factory(prometheus_url=None) as api:
        admin = await api.admin()
        for path in ("/metrics/overview", "/metrics/gpus"):
            error = _error(await api.client.get(path, headers=admin), 404, "not_found")
            assert "PROMETHEUS_URL" in error["message"]
    down = f"http://127.0.0.1:{free_port()}"
    async with api_factory(prometheus_url=down) as api:
        admin = await api.admin()
        for path in ("/metrics/overview?window=5m", "/metrics/gpus"):
            response = await api.client.get(path, headers=admin)
            assert _error(response, 503, "unavailable")["detail"] == {"dependency": "prometheus"}
        bad = await api.client.get("/metrics/overview?window=1y", headers=admin)
        _error(bad, 422, "validation_error")
        _, user = await api.new_user()
        _error(await api.client.get("/metrics/overview", headers=user), 403, "forbidden")
        _error(await api.client.get("/metrics/gpus"), 401, "unauthorized")


UNROUTED = "-"
"""The gateway's model label of a request refused before it is routed."""


def _gateway_requests(stack_env: dict[str, str], model: str, count: int) -> None:
    """Real requests through the stack's gateway, as the stack's admin (a model nobody
    serves: answered at once, counted in gateway_requests_total)."""
    with httpx.Client(timeout=30) as http:
        token = http.post(
            f"{stack_env['API_URL']}/auth/token",
            json={"username": stack_env["ADMIN_USERNAME"], "password": stack_env["ADMIN_PASSWORD"]},
        ).json()["access_token"]
        for _ in range(count):
            response = http.post(
                f"{stack_env['GATEWAY_URL']}/v1/chat/completions",
                json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 404, response.text


async def test_overview_and_gpus_from_the_stacks_prometheus_after_gateway_traffic(
    api_factory: ApiFactory, stack_env: dict[str, str]
) -> None:
    async with api_factory(prometheus_url=stack_env["PROMETHEUS_URL"]) as api:
        admin = await api.admin()
        model = f"absent-{secrets.token_hex(3)}"

        async def traffic_shown() -> dict[str, Any] | None:
            # traffic on every try: a counter's first scrape only starts its series, its
            # rate needs requests after that
            await asyncio.to_thread(_gateway_requests, stack_env, model, 2)
            response = await api.client.get("/metrics/overview?window=5m", headers=admin)
            assert response.status_code == 200, response.text
            panels = {p["key"]: p for p in response.json()["panels"]}
            shown = {
                key: s
                for key in ("requests", "errors")
                for s in panels[key]["series"]
                if s["label"] == UNROUTED and (s["latest"] or 0) > 0
            }
            return panels if len(shown) == 2 else None

        panels = await async_wait_for(
            traffic_shown, timeout=120, interval=3, what="the gateway's requests in Prometheus"
        )
        assert next(len(s["values"]) for s in panels["requests"]["series"]) == POINTS
        assert {"ttft_p50", "ttft_p95", "tokens", "deferred", "gpu_utilization"} <= set(panels)

        # every window's last point is the time of the question, so traffic seen in the
        # 5 min view is in the wider ones at once (a 6h view aligned down to its 12 min
        # steps would hide it)
        for window in ("15m", "1h", "6h"):
            asked_at = time.time()
            response = await api.client.get(f"/metrics/overview?window={window}", headers=admin)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["start"] + body["step_seconds"] * (POINTS - 1) >= asked_at - 1
            requests = next(p for p in body["panels"] if p["key"] == "requests")
            unrouted = next(s for s in requests["series"] if s["label"] == UNROUTED)
            assert (unrouted["values"][-1] or 0) > 0, (window, unrouted)

        _, user = await api.new_user()
        gpus = await api.client.get("/metrics/gpus", headers=user)
        assert gpus.status_code == 200, gpus.text
        nodes = gpus.json()
        assert any(n["simulated"] for n in nodes)
        assert any(not n["simulated"] for n in nodes), "the local node is missing"
        # no NVIDIA card on this machine, and kwok's nodes never report
        assert all(n["metrics_status"] == "not reported" and n["cards"] == [] for n in nodes)
