"""Imports end to end against the stack's MinIO and Postgres, the service as a real process."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from minio import Minio
from sqlalchemy import select

from inference_common.db import make_engine, make_sessionmaker, unit_of_work
from inference_common.tables import Model
from inference_localstack.embedded_model import embedded_model_path
from inference_testkit.database import forget_model
from inference_testkit.waiting import wait_for

from .conftest import Service, incomplete_uploads, location
from .sources import MIB, publish, write_gguf, write_manifest

TERMINAL = {"Done", "Failed", "Cancelled"}


async def _model_rows(database_url: str, model_uuid: UUID) -> list[Model]:
    engine = make_engine(database_url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            return list(await session.scalars(select(Model).where(Model.uuid == model_uuid)))
    finally:
        await engine.dispose()


def model_rows(database_url: str, model_uuid: UUID) -> list[Model]:
    return asyncio.run(_model_rows(database_url, model_uuid))


def status(client: httpx.Client, model_uuid: UUID) -> dict[str, Any]:
    response = client.get(f"/status/{model_uuid}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_final(client: httpx.Client, model_uuid: UUID, timeout: float = 180) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        body = status(client, model_uuid)
        return body if body["phase"] in TERMINAL else None

    return wait_for(final, timeout=timeout, what=f"job {model_uuid} to finish")


def start_copying(
    client: httpx.Client, model_uuid: UUID, at_least: int = 1, timeout: float = 120
) -> None:
    """Starts the download and waits (bounded) until `at_least` bytes are copied."""
    assert client.post(f"/download/{model_uuid}").status_code == 202
    wait_for(
        lambda: status(client, model_uuid)["bytes_done"] >= at_least,
        timeout=timeout,
        what=f"{at_least} bytes copied",
    )


def objects_under(s3: Minio, bucket: str, model_uuid: UUID) -> list[str]:
    return [
        str(o.object_name)
        for o in s3.list_objects(bucket, prefix=f"models/{model_uuid}", recursive=True)
    ]


def test_full_import_of_the_embedded_model_registers_last(
    service: Service, s3: Minio, database_url: str, stack_env: dict[str, str]
) -> None:
    model_uuid = publish(s3, service.source, [embedded_model_path()])
    with service.client() as client:
        response = client.post(f"/download/{model_uuid}")
        assert response.status_code == 202, response.text
        assert response.json()["bytes_total"] == embedded_model_path().stat().st_size

        def done() -> dict[str, Any] | None:
            # publish last: the row and Done are one transaction, so a row read before the
            # status means the status says Done (read the other way round, the job could
            # finish between the two reads)
            registered = model_rows(database_url, model_uuid)
            body = status(client, model_uuid)
            if registered:
                assert body["phase"] == "Done", body
            if body["phase"] != "Done":
                return None
            return body

        body = wait_for(done, timeout=180, what="import")
    assert body["bytes_done"] == body["bytes_total"]
    assert body["files"][0]["state"] == "stored"
    assert body["error"] is None
    [row] = model_rows(database_url, model_uuid)
    assert row.object_key == f"models/{model_uuid}.gguf"
    assert row.source == f"quant:{model_uuid}"
    assert row.architecture == "llama"
    assert row.size_bytes == embedded_model_path().stat().st_size
    assert s3.stat_object(service.target, row.object_key).size == row.size_bytes
    assert incomplete_uploads(location(stack_env), service.target, f"models/{model_uuid}") == []
    # the embedded model's bytes are registered once per database: other suites upload them
    forget_model(database_url, model_uuid)


def test_split_gguf_import(service: Service, s3: Minio, database_url: str, tmp_path: Path) -> None:
    parts = [
        write_gguf(tmp_path / f"tiny-0000{i}-of-00002.gguf", padding_bytes=6 * MIB) for i in (1, 2)
    ]
    model_uuid = publish(s3, service.source, parts)
    with service.client() as client:
        assert client.post(f"/download/{model_uuid}").status_code == 202
        body = wait_final(client, model_uuid)
    assert body["phase"] == "Done", body
    assert [f["state"] for f in body["files"]] == ["stored", "stored"]
    assert sorted(objects_under(s3, service.target, model_uuid)) == [
        f"models/{model_uuid}/{p.name}" for p in parts
    ]
    [row] = model_rows(database_url, model_uuid)
    assert row.object_key == f"models/{model_uuid}/{parts[0].name}"
    assert row.size_bytes == sum(p.stat().st_size for p in parts)


@pytest.mark.parametrize(
    ("problem", "error_class"),
    [("checksum", "checksum_mismatch"), ("not_gguf", "not_gguf"), ("missing", "not_found")],
)
def test_bad_sources_fail_and_leave_nothing(
    service: Service,
    s3: Minio,
    database_url: str,
    stack_env: dict[str, str],
    tmp_path: Path,
    problem: str,
    error_class: str,
) -> None:
    path = write_gguf(tmp_path / "m.gguf", padding_bytes=12 * MIB)
    if problem == "not_gguf":
        path.write_bytes(b"NOTAGGUF" + path.read_bytes()[8:])
    model_uuid = publish(
        s3, service.source, [path], sha_override="0" * 64 if problem == "checksum" else None
    )
    if problem == "missing":
        s3.remove_object(service.source, f"{model_uuid}/m.gguf")
    with service.client() as client:
        assert client.post(f"/download/{model_uuid}").status_code == 202
        body = wait_final(client, model_uuid)
    assert body["phase"] == "Failed"
    assert body["error"]["error_class"] == error_class, body
    assert body["attempts"] == 1  # permanent: no retry
    assert model_rows(database_url, model_uuid) == []
    assert objects_under(s3, service.target, model_uuid) == []
    assert incomplete_uploads(location(stack_env), service.target, f"models/{model_uuid}") == []


def test_identical_bytes_are_refused_as_duplicate_before_any_copy(
    service: Service, s3: Minio, database_url: str, stack_env: dict[str, str], tmp_path: Path
) -> None:
    path = write_gguf(tmp_path / "m.gguf", padding_bytes=6 * MIB)
    first = publish(s3, service.source, [path], name=f"first-{uuid4().hex[:8]}")
    again = publish(s3, service.source, [path], name=f"again-{uuid4().hex[:8]}")
    with service.client() as client:
        assert client.post(f"/download/{first}").status_code == 202
        assert wait_final(client, first)["phase"] == "Done"
        assert client.post(f"/download/{again}").status_code == 202
        body = wait_final(client, again)
    assert body["phase"] == "Failed"
    assert body["error"]["error_class"] == "duplicate", body
    assert str(first) in body["error"]["message"]
    assert body["bytes_sent"] == 0
    assert model_rows(database_url, again) == []
    assert objects_under(s3, service.target, again) == []
    assert incomplete_uploads(location(stack_env), service.target, f"models/{again}") == []


def test_missing_or_bad_manifest_is_refused(service: Service, s3: Minio) -> None:
    bad = uuid4()
    write_manifest(s3, service.source, bad, {"name": "x", "files": []})
    with service.client() as client:
        missing = client.post(f"/download/{uuid4()}")
        assert missing.status_code == 404
        assert "manifest.json" in missing.json()["error"]["message"]
        invalid = client.post(f"/download/{bad}")
        assert invalid.status_code == 422
        assert invalid.json()["error"]["type"] == "unprocessable"
        assert client.post("/download/not-a-uuid").status_code == 422


def test_cancel_leaves_no_incomplete_upload(
    service: Service, s3: Minio, database_url: str, stack_env: dict[str, str], tmp_path: Path
) -> None:
    path = write_gguf(tmp_path / "big.gguf", padding_bytes=150 * MIB)
    model_uuid = publish(s3, service.source, [path])
    with service.client() as client:
        start_copying(client, model_uuid)
        response = client.delete(f"/download/{model_uuid}")
        assert response.status_code == 200, response.text
        assert response.json()["phase"] == "Cancelled"
        assert status(client, model_uuid)["error"]["error_class"] == "cancelled"
    assert incomplete_uploads(location(stack_env), service.target, f"models/{model_uuid}") == []
    assert objects_under(s3, service.target, model_uuid) == []
    assert model_rows(database_url, model_uuid) == []


def test_idempotent_and_concurrent_posts_make_one_copy(
    service: Service, s3: Minio, database_url: str, tmp_path: Path
) -> None:
    path = write_gguf(tmp_path / "m.gguf", padding_bytes=30 * MIB)
    model_uuid = publish(s3, service.source, [path])
    with service.client() as client, ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: client.post(f"/download/{model_uuid}"), range(4)))
        assert [r.status_code for r in responses] == [202] * 4
        body = wait_final(client, model_uuid)
        again = client.post(f"/download/{model_uuid}")
    assert body["phase"] == "Done", body
    assert body["bytes_sent"] == path.stat().st_size  # every byte sent exactly once
    assert again.status_code == 202
    assert again.json()["phase"] == "Done"
    assert len(model_rows(database_url, model_uuid)) == 1


def test_jobs_are_private_to_their_owner(service: Service, s3: Minio, tmp_path: Path) -> None:
    model_uuid = publish(s3, service.source, [write_gguf(tmp_path / "m.gguf")])
    with service.client() as owner, service.client("other") as other:
        assert owner.post(f"/download/{model_uuid}").status_code == 202
        wait_final(owner, model_uuid)
        assert other.get(f"/status/{model_uuid}").status_code == 404
        assert model_uuid not in {UUID(j["model_uuid"]) for j in other.get("/downloads").json()}
        assert model_uuid in {UUID(j["model_uuid"]) for j in owner.get("/downloads").json()}
    with service.client("admin") as admin:
        assert model_uuid in {UUID(j["model_uuid"]) for j in admin.get("/downloads").json()}
    with httpx.Client(base_url=service.url) as anonymous:
        response = anonymous.get("/downloads")
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "unauthorized"


def test_quant_models_lists_the_manifests(service: Service, s3: Minio, tmp_path: Path) -> None:
    model_uuid = publish(s3, service.source, [write_gguf(tmp_path / "m.gguf")], name="listed")
    with service.client() as client:
        listing = client.get("/quant/models")
    assert listing.status_code == 200
    entry = next(m for m in listing.json() if m["model_uuid"] == str(model_uuid))
    assert entry["manifest"]["name"] == "listed"
    assert entry["manifest"]["files"][0]["key"] == "m.gguf"


def test_event_stream_sends_a_snapshot_on_connect_and_ends_when_done(
    service: Service, s3: Minio, tmp_path: Path
) -> None:
    path = write_gguf(tmp_path / "m.gguf", padding_bytes=20 * MIB)
    model_uuid = publish(s3, service.source, [path])
    snapshots: list[dict[str, Any]] = []
    started = time.monotonic()
    with service.client() as client:
        assert client.post(f"/download/{model_uuid}").status_code == 202
        with client.stream("GET", f"/status/{model_uuid}/events", timeout=120) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    snapshots.append(json.loads(line[len("data: ") :]))
                assert time.monotonic() - started < 120
        # a reconnect after the end gets the full final snapshot at once
        with client.stream("GET", f"/status/{model_uuid}/events", timeout=30) as again:
            replay = [json.loads(x[6:]) for x in again.iter_lines() if x.startswith("data: ")]
    assert snapshots[0]["model_uuid"] == str(model_uuid)
    assert snapshots[-1]["phase"] == "Done"
    assert [s["bytes_done"] for s in snapshots] == sorted(s["bytes_done"] for s in snapshots)
    assert len(replay) == 1
    assert replay[0]["phase"] == "Done"
    assert replay[0]["bytes_done"] == path.stat().st_size
