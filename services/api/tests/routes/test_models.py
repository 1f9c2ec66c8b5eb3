from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import gguf
import pytest
from minio import Minio

from inference_localstack.embedded_model import embedded_model_path

from ..conftest import Api, ApiFactory
from ..gguf_files import gguf_bytes

OCTET = {"content-type": "application/octet-stream"}


@pytest.fixture(scope="module")
def embedded() -> Path:
    return embedded_model_path()


@pytest.fixture(scope="module")
def embedded_sha256(embedded: Path) -> str:
    with embedded.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def embedded_size(path: Path) -> int:
    return path.stat().st_size


def file_chunks(path: Path, limit: int | None = None) -> Iterator[bytes]:
    sent = 0
    with path.open("rb") as f:
        while block := f.read(256 * 1024):
            if limit is not None:
                block = block[: limit - sent]
            if not block:
                return
            sent += len(block)
            yield block


async def astream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def objects(s3: Minio, bucket: str) -> set[str]:
    return {str(o.object_name) for o in s3.list_objects(bucket, recursive=True)}


def incomplete_uploads(s3: Minio, bucket: str) -> list[object]:
    result = s3._list_multipart_uploads(bucket)
    return list(result.uploads)


async def test_upload_the_embedded_model(
    api: Api, s3: Minio, embedded: Path, embedded_sha256: str
) -> None:
    headers = await api.admin()
    name = f"smollm2-{secrets.token_hex(3)}:135m"
    # Streamed with a Content-Length (the duplicate below goes chunked, without one).
    response = await api.client.post(
        "/models",
        params={"name": name},
        content=astream(file_chunks(embedded)),
        headers={**headers, **OCTET, "content-length": str(embedded_size(embedded))},
    )
    assert response.status_code == 201, response.text
    model = response.json()
    reader = gguf.GGUFReader(embedded)

    assert model["name"] == name
    assert model["size_bytes"] == embedded_size(embedded)
    assert model["sha256"] == embedded_sha256
    assert model["architecture"] == "llama"
    assert model["context_length"] == reader.get_field("llama.context_length").contents()
    assert model["parameter_count"] == sum(int(t.n_elements) for t in reader.tensors)
    assert model["file_type"] == "Q4_1"
    assert model["tokenizer"] == reader.get_field("tokenizer.ggml.model").contents()
    assert model["vocab_size"] == len(reader.get_field("tokenizer.ggml.tokens").data)
    assert model["chat_template"] == reader.get_field("tokenizer.chat_template").contents()
    assert model["metadata"]["kv"]["general.architecture"] == "llama"
    assert model["state"] == "ready"

    # The bytes in MinIO are the file's bytes.
    stored = s3.get_object(api.settings.models_bucket, f"models/{model['uuid']}.gguf")
    try:
        digest = hashlib.sha256()
        for block in stored.stream(1 << 20):
            digest.update(block)
    finally:
        stored.close()
        stored.release_conn()
    assert digest.hexdigest() == embedded_sha256

    listed = (await api.client.get("/models", headers=headers)).json()
    assert model["uuid"] in {m["uuid"] for m in listed}
    assert all("metadata" not in m for m in listed)
    detail = await api.client.get(f"/models/{model['uuid']}", headers=headers)
    assert detail.status_code == 200
    assert detail.json()["sha256"] == embedded_sha256

    # The same file again, under another name: detected by its checksum; nothing is kept.
    before = objects(s3, api.settings.models_bucket)
    duplicate = await api.client.post(
        "/models",
        params={"name": f"{name}-again"},
        content=astream(file_chunks(embedded)),
        headers={**headers, **OCTET},
    )
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["error"]["detail"]["model_uuid"] == model["uuid"]
    assert objects(s3, api.settings.models_bucket) == before

    # Same name: refused before reading the body.
    taken = await api.client.post(
        "/models", params={"name": name}, content=b"GGUF", headers={**headers, **OCTET}
    )
    assert taken.status_code == 409

    deleted = await api.client.delete(f"/models/{model['uuid']}", headers=headers)
    assert deleted.status_code == 204
    assert f"models/{model['uuid']}.gguf" not in objects(s3, api.settings.models_bucket)
    gone = await api.client.get(f"/models/{model['uuid']}", headers=headers)
    assert gone.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"hello world, not a model", id="text"),
        pytest.param(b"PK\x03\x04" + secrets.token_bytes(10_000), id="zip"),
        pytest.param(b"GGUF\x01\x00\x00\x00" + b"\x00" * 100, id="gguf-v1"),
        pytest.param(b"GGUF\x03\x00\x00\x00" + b"\xff" * 16, id="absurd-counts"),
    ],
)
async def test_non_gguf_files_get_422_and_leave_nothing(api: Api, s3: Minio, body: bytes) -> None:
    headers = await api.admin()
    name = f"bad-{secrets.token_hex(4)}"
    before = objects(s3, api.settings.models_bucket)
    response = await api.client.post(
        "/models", params={"name": name}, content=body, headers={**headers, **OCTET}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "unprocessable"
    assert objects(s3, api.settings.models_bucket) == before
    listed = (await api.client.get("/models", headers=headers)).json()
    assert name not in {m["name"] for m in listed}


@pytest.mark.parametrize(
    "keep",
    [
        pytest.param(1000, id="inside-the-header"),
        pytest.param(30 * 1024 * 1024, id="inside-the-tensors-after-multipart-parts"),
    ],
)
async def test_truncated_file_gets_422_and_leaves_nothing(
    api: Api, s3: Minio, embedded: Path, keep: int
) -> None:
    headers = await api.admin()
    before = objects(s3, api.settings.models_bucket)
    response = await api.client.post(
        "/models",
        params={"name": f"cut-{secrets.token_hex(4)}"},
        content=astream(file_chunks(embedded, limit=keep)),
        headers={**headers, **OCTET},
    )
    assert response.status_code == 422, response.text
    assert "truncated" in response.json()["error"]["message"]
    assert objects(s3, api.settings.models_bucket) == before
    assert incomplete_uploads(s3, api.settings.models_bucket) == []


async def test_uploads_over_the_limit_get_413(
    api_factory: ApiFactory, s3: Minio, tmp_path: Path
) -> None:
    data = gguf_bytes(tmp_path, tokens=2000)
    async with api_factory(max_upload_bytes=len(data) - 1) as api:
        headers = await api.admin()
        before = objects(s3, api.settings.models_bucket)
        # Declared size over the limit: refused up front.
        declared = await api.client.post(
            "/models", params={"name": "big-a"}, content=data, headers={**headers, **OCTET}
        )
        # Chunked (no Content-Length): refused while streaming.
        streamed = await api.client.post(
            "/models",
            params={"name": "big-b"},
            content=astream(iter([data[:1000], data[1000:]])),
            headers={**headers, **OCTET},
        )
        for response in (declared, streamed):
            assert response.status_code == 413, response.text
            assert response.json()["error"]["type"] == "payload_too_large"
        assert objects(s3, api.settings.models_bucket) == before


async def test_small_valid_file_and_name_rules(api: Api, tmp_path: Path) -> None:
    headers = await api.admin()
    data = gguf_bytes(tmp_path, tokens=10)
    bad_name = await api.client.post(
        "/models", params={"name": "../etc/passwd"}, content=data, headers={**headers, **OCTET}
    )
    assert bad_name.status_code == 422
    name = f"tiny-{secrets.token_hex(3)}"
    ok = await api.client.post(
        "/models", params={"name": name}, content=data, headers={**headers, **OCTET}
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["parameter_count"] == 32 + 64
    assert ok.json()["context_length"] == 4096


async def test_only_owner_or_admin_deletes_a_model(api: Api, tmp_path: Path) -> None:
    _, alice = await api.new_user()
    _, bob = await api.new_user()
    data = gguf_bytes(tmp_path, tokens=11)
    created = await api.post_model(alice, f"alice-{secrets.token_hex(3)}", data)
    assert created.status_code == 201, created.text
    uuid = created.json()["uuid"]
    assert (await api.client.delete(f"/models/{uuid}", headers=bob)).status_code == 403
    assert (await api.client.delete(f"/models/{uuid}", headers=alice)).status_code == 204
    assert (await api.client.delete(f"/models/{uuid}", headers=alice)).status_code == 404
