"""The alert receiver (Alertmanager's webhook, bearer token) and GET /health/score's edges:
no Prometheus configured is a 404, Prometheus down a 503, in the API's error shape."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from pydantic import SecretStr

from inference_api.repositories.servers import ServerRepository
from inference_common.db import unit_of_work
from inference_localstack import observability
from inference_localstack.stack import toolchain_bin_dir
from inference_testkit.servers import free_port, stop_process, wait_http_ok

from ..conftest import Api, ApiFactory


def _payload(*names: str, status: str = "firing") -> dict[str, Any]:
    return {
        "version": "4",
        "status": status,
        "receiver": "platform",
        "groupLabels": {},
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": name, "server_uuid": "s1"},
                "annotations": {"summary": f"{name} fired"},
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": secrets.token_hex(8),
            }
            for name in names
        ],
    }


def _error(response: Any, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == error_type
    return error


async def test_alerts_need_the_shared_token_and_are_listed_newest_first(
    api_factory: ApiFactory,
) -> None:
    token = secrets.token_urlsafe(24)
    async with api_factory(alert_webhook_token=SecretStr(token)) as api:
        url = "/alerts/webhook"
        _error(await api.client.post(url, json=_payload("A")), 401, "unauthorized")
        wrong = {"Authorization": f"Bearer {token}x"}
        _error(await api.client.post(url, json=_payload("A"), headers=wrong), 401, "unauthorized")
        good = {"Authorization": f"Bearer {token}"}
        bad_body = await api.client.post(url, json={"alerts": "no"}, headers=good)
        _error(bad_body, 422, "unprocessable")

        first = await api.client.post(url, json=_payload("LlamaCppTargetDown"), headers=good)
        assert first.json() == {"received": 1}
        second = await api.client.post(url, json=_payload("A", "B"), headers=good)
        assert second.json() == {"received": 2}

        listed = await api.client.get("/alerts", headers=await api.admin())
        assert listed.status_code == 200, listed.text
        assert [a["name"] for a in listed.json()] == ["B", "A", "LlamaCppTargetDown"]
        assert listed.json()[2]["labels"]["server_uuid"] == "s1"
        _, user = await api.new_user()
        _error(await api.client.get("/alerts", headers=user), 403, "forbidden")


async def test_the_receiver_is_off_without_a_token(api: Api) -> None:
    response = await api.client.post("/alerts/webhook", json=_payload("A"))
    _error(response, 404, "not_found")


async def test_health_score_is_off_without_prometheus_and_503_when_it_is_down(
    api_factory: ApiFactory,
) -> None:
    async with api_factory(prometheus_url=None) as api:
        _error(await api.client.get("/health/score", headers=await api.admin()), 404, "not_found")
    # nothing listens on a fresh free port of 127.0.0.1: Prometheus is down
    down = f"http://127.0.0.1:{free_port()}"
    async with api_factory(prometheus_url=down) as api:
        response = await api.client.get("/health/score", headers=await api.admin())
        error = _error(response, 503, "unavailable")
        assert error["detail"] == {"dependency": "prometheus"}
        assert response.headers["Retry-After"] == "5"
        _, user = await api.new_user()
        _error(await api.client.get("/health/score", headers=user), 403, "forbidden")


@pytest.fixture
def empty_prometheus(tmp_path: Path) -> Iterator[str]:
    """A real Prometheus with nothing to scrape: every query answers with no data."""
    (tmp_path / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
    port = free_port()
    component = observability.prometheus(
        toolchain_bin_dir(build=False), tmp_path / "prometheus.yml", tmp_path / "tsdb", port
    )
    with (tmp_path / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(component.argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http_ok(component.health_url, process, 60, tmp_path / "prometheus.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process, grace=10)


async def test_health_score_joins_recorded_replicas_with_a_real_prometheus(
    api_factory: ApiFactory, empty_prometheus: str
) -> None:
    """Without scraped signals each running server is scored on its ready replicas alone;
    stopped servers are left out."""
    async with api_factory(prometheus_url=empty_prometheus) as api:
        half, stopped = uuid4(), uuid4()
        async with unit_of_work(api.state.sessions) as session:
            for server_uuid, stopped_at in ((half, None), (stopped, datetime.now(UTC))):
                await ServerRepository(session).add(
                    uuid=server_uuid,
                    name=f"s-{server_uuid.hex[:6]}",
                    namespace="inference",
                    model_name="plain:1b",
                    replicas=2,
                    ready_replicas=1,
                    endpoint=f"/{server_uuid}/",
                    stopped_at=stopped_at,
                )
        response = await api.client.get("/health/score", headers=await api.admin())
        assert response.status_code == 200, response.text
        body = response.json()
        servers = {s["server_uuid"]: s for s in body["servers"]}
        assert str(stopped) not in servers
        server = servers[str(half)]
        assert server["score"] == 80
        assert [r["message"] for r in server["reasons"]] == ["1 of 2 replicas ready"]
        assert f"server {half}: 1 of 2 replicas ready" in [r["message"] for r in body["reasons"]]
        assert 0 <= body["score"] <= 100
