"""`kill -9` of the service mid-copy, then a restart: the copy resumes from the parts already
stored (re-sending at most the parts that were in flight) and orphaned uploads are aborted; a
crash between completing a file's upload and recording it costs no second copy."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from inference_common.db import make_engine, make_sessionmaker, unit_of_work
from inference_common.s3_multipart import s3_client, start_upload, stored_parts
from inference_common.tables import DownloadJob
from inference_testkit.waiting import wait_for

from .conftest import Rig, download_service, incomplete_uploads, location
from .sources import MIB, publish, sha256_of, write_gguf
from .test_imports import model_rows, start_copying, status, wait_final

PART = 5 * MIB
IN_FLIGHT = 2


@asynccontextmanager
async def _engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _job(
    database_url: str, model_uuid: UUID, edit: Callable[[DownloadJob], None] | None = None
) -> DownloadJob:
    """The job's row, changed by `edit` first (committed) when given."""
    async with _engine(database_url) as engine, unit_of_work(make_sessionmaker(engine)) as session:
        job = await session.get(DownloadJob, model_uuid)
        assert job is not None
        if edit is not None:
            edit(job)
        return job


def _forget_recorded_parts(job: DownloadJob) -> None:
    """The row as if the service died before recording any part it stored (rows are written
    at most every PROGRESS_SAVE_SECONDS; this is that lag taken to the extreme)."""
    job.files = [{**f, "parts": [], "bytes_done": 0} for f in job.files]


def _mark_completing(job: DownloadJob) -> None:
    """The write the fault refused, done: the file verified, every part recorded."""
    job.files = [{**f, "state": "completing"} for f in job.files]


def _published(rig: Rig, path: Path, padding_bytes: int) -> UUID:
    write_gguf(path, padding_bytes=padding_bytes)
    return publish(rig.s3, rig.source, [path])


async def _server_side(
    stack_env: dict[str, str], bucket: str, key: str, upload_id: str
) -> tuple[int, str]:
    """Bytes our bucket holds for the upload, and a stray upload of the same key (what a
    crash between starting an upload and recording it leaves)."""
    async with s3_client(location(stack_env)) as client:
        held = sum(p.size for p in await stored_parts(client, bucket, key, upload_id))
        stray = await start_upload(client, bucket, key)
    return held, stray


def _killed_mid_copy(
    env: dict[str, str], log: Path, headers: dict[str, str], model_uuid: UUID, at_least: int
) -> None:
    """Starts the service and the download, and `kill -9`s it once `at_least` bytes are copied."""
    with download_service(env, log) as (url, process):
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            start_copying(client, model_uuid, at_least, timeout=300)
        process.kill()  # type: ignore[attr-defined]
        process.wait()  # type: ignore[attr-defined]


def _restarted_until_final(
    env: dict[str, str], log: Path, headers: dict[str, str], model_uuid: UUID, timeout: float
) -> dict[str, Any]:
    with (
        download_service(env, log) as (url, _),
        httpx.Client(base_url=url, headers=headers, timeout=30) as client,
    ):
        return wait_final(client, model_uuid, timeout=timeout)


def test_kill_9_mid_copy_then_resume(rig: Rig, tmp_path: Path) -> None:
    path = tmp_path / "big.gguf"
    model_uuid = _published(rig, path, padding_bytes=300 * MIB)
    size = path.stat().st_size
    env = rig.env(PART_BYTES=str(PART), PARALLEL_PARTS=str(IN_FLIGHT))
    headers = rig.users.headers()
    _killed_mid_copy(env, tmp_path / "first.log", headers, model_uuid, at_least=100 * MIB)

    before = asyncio.run(_job(rig.database_url, model_uuid))
    entry: dict[str, Any] = before.files[0]
    assert before.phase == "Copying"
    assert 0 < before.bytes_done < size
    held, stray = asyncio.run(
        _server_side(rig.stack_env, rig.target, entry["target_key"], entry["upload_id"])
    )
    assert held >= before.bytes_done
    asyncio.run(_job(rig.database_url, model_uuid, _forget_recorded_parts))

    body = _restarted_until_final(env, tmp_path / "second.log", headers, model_uuid, timeout=600)

    assert body["phase"] == "Done", body
    # nothing our bucket held at the kill is sent again (the progress row may lag the bucket
    # by a save interval: the parts are taken from the bucket); what is sent twice is at most
    # the parts that were in flight, and those may have landed after `held` was read
    assert held <= body["bytes_resumed"] <= held + IN_FLIGHT * PART, (held, body["bytes_resumed"])
    assert body["bytes_sent"] - before.bytes_sent == size - body["bytes_resumed"]
    [row] = model_rows(rig.database_url, model_uuid)
    assert row.sha256 == sha256_of(path)
    assert rig.s3.stat_object(rig.target, row.object_key).size == size
    leftovers = incomplete_uploads(location(rig.stack_env), rig.target, entry["target_key"])
    assert leftovers == [], f"stray upload {stray} or the job's own was left behind"


def test_a_source_changed_while_down_restarts_cleanly(rig: Rig, tmp_path: Path) -> None:
    # still copying at the kill
    model_uuid = _published(rig, tmp_path / "m.gguf", padding_bytes=200 * MIB)
    env = rig.env()
    headers = rig.users.headers()
    _killed_mid_copy(env, tmp_path / "first.log", headers, model_uuid, at_least=10 * MIB)
    old_upload = asyncio.run(_job(rig.database_url, model_uuid)).files[0]["upload_id"]
    assert old_upload

    (tmp_path / "new").mkdir()
    second = write_gguf(tmp_path / "new" / "m.gguf", padding_bytes=40 * MIB)
    publish(rig.s3, rig.source, [second], model_uuid=model_uuid)

    body = _restarted_until_final(env, tmp_path / "second.log", headers, model_uuid, timeout=300)
    assert body["phase"] == "Done", body
    assert body["bytes_resumed"] == 0
    assert body["bytes_total"] == second.stat().st_size
    [row] = model_rows(rig.database_url, model_uuid)
    assert row.sha256 == sha256_of(second)
    assert rig.s3.stat_object(rig.target, row.object_key).size == second.stat().st_size
    assert incomplete_uploads(location(rig.stack_env), rig.target, row.object_key) == []


async def _sql(database_url: str, *statements: str) -> None:
    async with _engine(database_url) as engine, engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


async def _sequence_value(database_url: str, name: str) -> int:
    query = text("SELECT last_value FROM pg_sequences WHERE sequencename = :name")
    async with _engine(database_url) as engine, engine.begin() as connection:
        return int((await connection.execute(query, {"name": name})).scalar_one())


@contextmanager
def _first_write_fails(database_url: str, model_uuid: UUID, file_state: str) -> Iterator[str]:
    """Postgres refuses, once, the first write that gives a file of this job `file_state`:
    the row stays as a `kill -9` just before that write left it. Yields the sequence whose
    value counts such writes (the refused one included)."""
    name = f"fault_{secrets.token_hex(4)}"
    asyncio.run(
        _sql(
            database_url,
            f"CREATE SEQUENCE {name}",
            f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF nextval('{name}') = 1 THEN
                RAISE EXCEPTION 'injected: a write of state {file_state} refused';
              END IF;
              RETURN NEW;
            END $$""",
            f"""CREATE TRIGGER {name} BEFORE UPDATE ON download_jobs FOR EACH ROW
            WHEN (NEW.model_uuid = '{model_uuid}'
                  AND jsonb_path_exists(NEW.files, '$[*] ? (@.state == "{file_state}")'))
            EXECUTE FUNCTION {name}()""",
        )
    )
    try:
        yield name
    finally:
        asyncio.run(
            _sql(
                database_url,
                f"DROP TRIGGER {name} ON download_jobs",
                f"DROP FUNCTION {name}()",
                f"DROP SEQUENCE {name}",
            )
        )


def test_a_crash_after_completing_the_upload_copies_nothing_again(rig: Rig, tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    model_uuid = _published(rig, path, padding_bytes=30 * MIB)
    size = path.stat().st_size
    env = rig.env(PART_BYTES=str(PART), RETRY_BASE_SECONDS="0.2")
    headers = rig.users.headers()
    with (
        _first_write_fails(rig.database_url, model_uuid, "stored") as fault,
        download_service(env, tmp_path / "service.log") as (url, _),
        httpx.Client(base_url=url, headers=headers, timeout=30) as client,
    ):
        assert client.post(f"/download/{model_uuid}").status_code == 202
        body = wait_final(client, model_uuid, timeout=120)
        writes = asyncio.run(_sequence_value(rig.database_url, fault))

    assert body["phase"] == "Done", body
    assert writes >= 2, "the first write that marks the file stored was refused, later ones not"
    assert body["attempts"] == 1, body
    # the first attempt sent every byte and completed the upload; the retry found the object
    # its recorded parts make and kept it
    assert body["bytes_sent"] == size, body
    assert body["bytes_resumed"] == size, body
    [row] = model_rows(rig.database_url, model_uuid)
    assert row.sha256 == sha256_of(path)
    stored = rig.s3.stat_object(rig.target, row.object_key)
    assert stored.size == size
    assert incomplete_uploads(location(rig.stack_env), rig.target, row.object_key) == []


def test_a_crash_before_completing_the_upload_completes_it_on_restart(
    rig: Rig, tmp_path: Path
) -> None:
    path = tmp_path / "m.gguf"
    model_uuid = _published(rig, path, padding_bytes=30 * MIB)
    size = path.stat().st_size
    env = rig.env(PART_BYTES=str(PART), RETRY_BASE_SECONDS="600")
    headers = rig.users.headers()
    with (
        _first_write_fails(rig.database_url, model_uuid, "completing"),
        download_service(env, tmp_path / "first.log") as (url, process),
        httpx.Client(base_url=url, headers=headers, timeout=30) as client,
    ):
        assert client.post(f"/download/{model_uuid}").status_code == 202
        wait_for(
            lambda: (
                "retrying" in ((status(client, model_uuid).get("error") or {}).get("message") or "")
            ),
            timeout=120,
            what="the refused write to make the job wait for a retry",
        )
        process.kill()  # type: ignore[attr-defined]
        process.wait()  # type: ignore[attr-defined]

    entry = asyncio.run(_job(rig.database_url, model_uuid, _mark_completing)).files[0]
    assert sum(part[2] for part in entry["parts"]) == size
    assert incomplete_uploads(location(rig.stack_env), rig.target, entry["target_key"]) == [
        entry["target_key"]
    ]

    # the restart completes the verified upload: it needs no byte of the source again
    rig.s3.remove_object(rig.source, f"{model_uuid}/{path.name}")

    body = _restarted_until_final(env, tmp_path / "second.log", headers, model_uuid, timeout=120)

    assert body["phase"] == "Done", body
    assert body["bytes_sent"] == size, body
    assert body["bytes_resumed"] == size, body
    [row] = model_rows(rig.database_url, model_uuid)
    assert row.sha256 == sha256_of(path)
    assert rig.s3.stat_object(rig.target, row.object_key).size == size
    assert incomplete_uploads(location(rig.stack_env), rig.target, row.object_key) == []
