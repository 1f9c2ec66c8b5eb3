"""The source store goes away or stalls mid-copy (a proxy in front of the stack's MinIO):
bounded retries, then a clear failure, then success once it is back; a stall fails the job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from .conftest import Rig, download_service, incomplete_uploads, location
from .proxy import Proxy, tcp_proxy
from .sources import MIB, publish, write_gguf
from .test_imports import model_rows, objects_under, start_copying, wait_final


@pytest.fixture
def proxy(stack_env: dict[str, str]) -> Iterator[Proxy]:
    with tcp_proxy(stack_env["S3_ENDPOINT"]) as running:
        yield running


Copying = Callable[..., AbstractContextManager[tuple[httpx.Client, UUID]]]


@pytest.fixture
def copying(rig: Rig, proxy: Proxy, tmp_path: Path) -> Copying:
    """`copying(**settings)`: the service, reading the source through the proxy, copying a
    240 MiB model (some bytes already copied, most still to come when the test cuts the
    proxy); yields a client and the model's uuid."""

    @contextmanager
    def start(**extra: str) -> Iterator[tuple[httpx.Client, UUID]]:
        path = write_gguf(tmp_path / "m.gguf", padding_bytes=240 * MIB)
        model_uuid = publish(rig.s3, rig.source, [path])
        env = rig.env(**extra)
        env["QUANT_S3_ENDPOINT"] = proxy.endpoint
        with (
            download_service(env, tmp_path / "service.log") as (url, _),
            httpx.Client(base_url=url, headers=rig.users.headers(), timeout=30) as client,
        ):
            start_copying(client, model_uuid)
            yield client, model_uuid

    return start


def test_source_outage_retries_then_fails_then_succeeds_when_back(
    copying: Copying, proxy: Proxy, rig: Rig
) -> None:
    with copying(MAX_ATTEMPTS="3", RETRY_BASE_SECONDS="0.5", RETRY_MAX_SECONDS="1") as (
        client,
        model_uuid,
    ):
        proxy.cut()
        failed = wait_final(client, model_uuid, timeout=120)
        assert failed["phase"] == "Failed"
        assert failed["attempts"] == 3
        assert failed["error"]["error_class"] == "unavailable"
        assert objects_under(rig.s3, rig.target, model_uuid) == []
        assert incomplete_uploads(location(rig.stack_env), rig.target, f"models/{model_uuid}") == []

        proxy.up()
        again = client.post(f"/download/{model_uuid}")
        assert again.status_code == 202
        assert again.json()["phase"] == "Queued"
        done = wait_final(client, model_uuid, timeout=180)
    assert done["phase"] == "Done", done
    assert done["attempts"] == 0
    assert len(model_rows(rig.database_url, model_uuid)) == 1


def test_stalled_source_fails_the_job(copying: Copying, proxy: Proxy, rig: Rig) -> None:
    with copying(STALL_SECONDS="3") as (client, model_uuid):
        proxy.pause()
        body = wait_final(client, model_uuid, timeout=60)
    assert body["phase"] == "Failed"
    assert body["error"]["error_class"] == "stalled"
    assert objects_under(rig.s3, rig.target, model_uuid) == []
    assert incomplete_uploads(location(rig.stack_env), rig.target, f"models/{model_uuid}") == []
    assert model_rows(rig.database_url, model_uuid) == []
