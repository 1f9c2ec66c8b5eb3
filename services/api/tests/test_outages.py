"""Dependency outages through the real API process: its Postgres or its MinIO (throwaway
ones of this test, never the stack's) stopped under load is answered 503 in the one error
shape with Retry-After, never 500, and the API recovers by itself once it is back. An
unreachable Kubernetes API (a kubeconfig naming a closed loopback port) is 503 too."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from inference_api.settings import ApiSettings
from inference_testkit.servers import free_port
from inference_testkit.throwaway import ThrowawayMinio, ThrowawayPostgres
from inference_testkit.waiting import async_wait_for

from .conftest import ADMIN, ApiFactory
from .gguf_files import gguf_bytes
from .process import api_server

OCTET = {"content-type": "application/octet-stream"}


@dataclass(frozen=True)
class Answer:
    started: float
    status: int
    body: dict[str, object]
    retry_after: str | None


@pytest.fixture
def outage_settings(
    api_settings: ApiSettings,
    throwaway_postgres: ThrowawayPostgres,
    throwaway_minio: ThrowawayMinio,
) -> ApiSettings:
    return api_settings.model_copy(
        update={
            "database_url": throwaway_postgres.url,
            "s3_endpoint": throwaway_minio.endpoint,
            "s3_access_key": throwaway_minio.access_key,
            "s3_secret_key": SecretStr(throwaway_minio.secret_key),
            "models_bucket": f"outage-{secrets.token_hex(4)}",
        }
    )


async def _admin_headers(client: httpx.AsyncClient, settings: ApiSettings) -> dict[str, str]:
    assert settings.admin_password is not None
    response = await client.post(
        "/auth/token",
        json={"username": ADMIN, "password": settings.admin_password.get_secret_value()},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _load(
    count: int,
    per_second: float,
    request: Callable[[int], Awaitable[httpx.Response]],
    halfway: asyncio.Event | None = None,
    concurrency: int = 8,
) -> list[Answer]:
    """`count` requests started at `per_second` (at most `concurrency` at once); `halfway`
    is set once a quarter of them have been answered."""
    answers: list[Answer] = []
    gate = asyncio.Semaphore(concurrency)
    begin = time.monotonic()

    async def one(index: int) -> None:
        await asyncio.sleep(max(0.0, begin + index / per_second - time.monotonic()))
        async with gate:
            started = time.monotonic()
            response = await request(index)
        body = response.json() if response.content else {}
        answers.append(
            Answer(started, response.status_code, body, response.headers.get("retry-after"))
        )
        if halfway is not None and len(answers) == count // 4:
            halfway.set()

    await asyncio.gather(*(one(i) for i in range(count)))
    return answers


def _assert_unavailable(answer: Answer, dependency: str) -> None:
    assert answer.status == 503, answer
    assert answer.retry_after == "5"
    assert answer.body == {
        "error": {
            "type": "unavailable",
            "message": f"{dependency} unavailable",
            "detail": {"dependency": dependency},
        }
    }


async def _stop_midway(halfway: asyncio.Event, stop: Callable[[], None]) -> float:
    """Stops the dependency once the load is under way; returns when it was down."""
    await halfway.wait()
    await asyncio.to_thread(stop)
    return time.monotonic()


async def test_postgres_stopped_under_load(
    outage_settings: ApiSettings, throwaway_postgres: ThrowawayPostgres, tmp_path: Path
) -> None:
    log = tmp_path / "api.log"
    with api_server(outage_settings, log) as api:
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            headers = await _admin_headers(client, outage_settings)
            paths = ["/status", "/models", "/users/me"]

            async def request(index: int) -> httpx.Response:
                return await client.get(paths[index % len(paths)], headers=headers)

            before = await _load(30, 50, request)
            assert {a.status for a in before} == {200}

            halfway = asyncio.Event()
            answers, down_at = await asyncio.gather(
                _load(200, 50, request, halfway),  # over 4 s
                _stop_midway(halfway, throwaway_postgres.stop),
            )
            assert {a.status for a in answers} <= {200, 503}
            during = [a for a in answers if a.started > down_at]
            assert len(during) >= 50
            for answer in during:
                _assert_unavailable(answer, "database")

            health = await client.get("/health")
            assert health.status_code == 503
            assert health.headers["retry-after"] == "5"
            assert health.json()["checks"]["postgres"] != "ok"
            assert health.json()["checks"]["minio"] == "ok"

            await asyncio.to_thread(throwaway_postgres.start)

            async def recovered() -> bool:
                return (await client.get("/status", headers=headers)).status_code == 200

            await async_wait_for(recovered, timeout=30, what="the API to reach Postgres again")
            after = await _load(30, 50, request)
            assert {a.status for a in after} == {200}

    text = log.read_text()
    assert "database unavailable" in text
    # One report (with its traceback) for the whole outage, not one per failed request.
    assert text.count("database unavailable") + text.count("database still unavailable") <= 3
    assert "Exception in ASGI application" not in text
    assert "unhandled error" not in text


async def test_minio_stopped_under_uploads(
    outage_settings: ApiSettings, throwaway_minio: ThrowawayMinio, tmp_path: Path
) -> None:
    files = [gguf_bytes(tmp_path, tokens=100 + i) for i in range(24)]
    with api_server(outage_settings, tmp_path / "api.log") as api:
        async with httpx.AsyncClient(base_url=api.url, timeout=60) as client:
            headers = await _admin_headers(client, outage_settings)

            async def upload(index: int) -> httpx.Response:
                return await client.post(
                    "/models",
                    params={"name": f"outage-{index}-{secrets.token_hex(3)}"},
                    content=files[index],
                    headers={**headers, **OCTET},
                )

            first = await upload(0)
            assert first.status_code == 201, first.text

            halfway = asyncio.Event()
            answers, down_at = await asyncio.gather(
                _load(20, 4, lambda i: upload(i + 1), halfway, concurrency=2),
                _stop_midway(halfway, throwaway_minio.stop),
            )
            assert {a.status for a in answers} <= {201, 503}
            during = [a for a in answers if a.started > down_at]
            assert during
            for answer in during:
                _assert_unavailable(answer, "object store")

            listed = await client.get("/models", headers=headers)
            assert listed.status_code == 200  # Postgres is up: what does not need MinIO works
            health = await client.get("/health")
            assert health.status_code == 503
            assert health.json()["checks"]["minio"] != "ok"
            assert health.json()["checks"]["postgres"] == "ok"

            await asyncio.to_thread(throwaway_minio.start)
            await _wait_healthy(client)
            again = await upload(23)
            assert again.status_code == 201, again.text


async def _wait_healthy(client: httpx.AsyncClient) -> None:
    async def healthy() -> bool:
        return (await client.get("/health")).status_code == 200

    await async_wait_for(healthy, timeout=30, what="the API's dependencies to be healthy")


def _unreachable_kubeconfig(path: Path) -> Path:
    port = free_port()  # nothing listens there
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: down\n"
        f"clusters: [{{name: down, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: down, context: {cluster: down, user: down}}]\n"
        "users: [{name: down, user: {token: unused}}]\n"
    )
    return path


async def test_kubernetes_unreachable_serve_is_503(api_factory: ApiFactory, tmp_path: Path) -> None:
    kubeconfig = _unreachable_kubeconfig(tmp_path / "kubeconfig")
    async with api_factory(kubeconfig=str(kubeconfig), watch_modelserves=False) as api:
        headers = await api.admin()
        name = f"kube-down-{secrets.token_hex(3)}"
        uploaded = await api.client.post(
            "/models",
            params={"name": name},
            content=gguf_bytes(tmp_path, tokens=50),
            headers={**headers, **OCTET},
        )
        assert uploaded.status_code == 201, uploaded.text
        served = await api.client.post(
            "/serve", json={"model_name": name, "replicas": 1}, headers=headers
        )
        assert served.status_code == 503, served.text
        assert served.headers["retry-after"] == "5"
        assert served.json()["error"]["type"] == "unavailable"
        assert "Kubernetes" in served.json()["error"]["message"]
        health = await api.client.get("/health")
        assert health.status_code == 503
        assert health.json()["checks"]["kubernetes"] != "ok"
