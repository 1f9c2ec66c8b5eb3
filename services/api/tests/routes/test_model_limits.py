"""What an upload may make the registry keep and take: a GGUF must have tensors, its kept
metadata is capped, lists leave that metadata in the database, an upload has a total time
limit. Real crafted GGUF files through the API and the stack's MinIO."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from minio import Minio
from sqlalchemy.exc import InvalidRequestError

from inference_api.repositories.models import ModelRepository
from inference_common.gguf import KEPT_METADATA_BYTES

from ..conftest import Api, ApiFactory
from ..gguf_files import bloated_gguf, gguf_bytes, gguf_string, kv, raw_header
from .test_models import OCTET, objects


async def test_a_gguf_without_tensors_is_refused(api: Api, s3: Minio) -> None:
    headers = await api.admin()
    before = objects(s3, api.settings.models_bucket)
    for body in (
        raw_header(kvs=[kv("general.architecture", 8, gguf_string("llama"))]),
        bloated_gguf(8 * 1024 * 1024, with_tensor=False),
    ):
        response = await api.post_model(headers, f"empty-{secrets.token_hex(3)}", body)
        assert response.status_code == 422, response.text
        assert "no tensors" in response.json()["error"]["message"]
    assert objects(s3, api.settings.models_bucket) == before


async def test_kept_metadata_is_capped(api: Api) -> None:
    headers = await api.admin()
    response = await api.post_model(
        headers, f"bloated-{secrets.token_hex(3)}", bloated_gguf(32 * 1024 * 1024)
    )
    assert response.status_code == 201, response.text
    detail = (await api.client.get(f"/models/{response.json()['uuid']}", headers=headers)).json()
    kept = len(json.dumps(detail["metadata"]))
    assert kept <= KEPT_METADATA_BYTES + 64 * 1024
    assert detail["architecture"] == "llama"
    kv_kept = detail["metadata"]["kv"]
    summarised = [v for v in kv_kept.values() if isinstance(v, dict) and "string_bytes" in v]
    assert summarised  # the strings past the budget: their size, not their text
    assert len(kv_kept) + detail["metadata"]["kv_dropped"] == 1 + 32 * 1024 // 60


async def test_the_list_leaves_the_metadata_in_the_database(api: Api, tmp_path: Path) -> None:
    headers = await api.admin()
    uploaded = await api.client.post(
        "/models",
        params={"name": f"listed-{secrets.token_hex(3)}"},
        content=gguf_bytes(tmp_path, tokens=300),
        headers={**headers, **OCTET},
    )
    assert uploaded.status_code == 201, uploaded.text

    async with api.state.sessions() as session:
        listings = await ModelRepository(session).list(1000, 0)
        mine = next(m for m in listings if str(m.model.uuid) == uploaded.json()["uuid"])
        with pytest.raises(InvalidRequestError, match="raiseload"):
            _ = mine.model.gguf_metadata  # not loaded, and never loaded lazily
    assert (mine.tokenizer, mine.vocab_size) == ("llama", 300)

    listed = (await api.client.get("/models", headers=headers, params={"limit": 1000})).json()
    shown = next(m for m in listed if m["uuid"] == uploaded.json()["uuid"])
    assert (shown["tokenizer"], shown["vocab_size"]) == ("llama", 300)
    assert "metadata" not in shown


async def test_an_upload_has_a_total_time_limit(
    api_factory: ApiFactory, s3: Minio, tmp_path: Path
) -> None:
    data = gguf_bytes(tmp_path, tokens=5000)
    pieces = [data[i : i + 1024] for i in range(0, len(data), 1024)]

    async def trickle() -> AsyncIterator[bytes]:  # never idle, just slow
        for piece in pieces:
            yield piece
            await asyncio.sleep(0.1)

    assert len(pieces) * 0.1 > 3  # far longer than the limit below
    async with api_factory(upload_max_seconds=1.5) as api:
        headers = await api.admin()
        before = objects(s3, api.settings.models_bucket)
        response = await api.client.post(
            "/models",
            params={"name": f"slow-{secrets.token_hex(3)}"},
            content=trickle(),
            headers={**headers, **OCTET},
        )
        assert response.status_code == 400, response.text
        assert "took longer than 1.5 s" in response.json()["error"]["message"]
        assert objects(s3, api.settings.models_bucket) == before
