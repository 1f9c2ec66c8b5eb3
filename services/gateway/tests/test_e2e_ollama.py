"""Ollama API through the gateway: the official `ollama` client and raw NDJSON."""

from __future__ import annotations

import json
import secrets
import uuid

import ollama
import pytest
from sqlalchemy import delete
from sqlalchemy.pool import NullPool

from inference_common.db import make_engine, make_sessionmaker, unit_of_work
from inference_common.tables import Model

from .conftest import MODEL, RunningGateway


def _client(gw: RunningGateway) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=gw.url, headers=gw.auth)


async def test_generate_plain_with_options(gateway: RunningGateway) -> None:
    result = await _client(gateway).generate(
        model=MODEL, prompt="Say hi", options={"num_predict": 3, "temperature": 0, "seed": 1}
    )
    assert result.model == MODEL
    assert result.done is True
    assert result.response
    assert result.eval_count is not None
    assert 0 < result.eval_count <= 3
    assert result.done_reason in ("length", "stop")


async def test_body_is_json_whatever_the_declared_content_type(gateway: RunningGateway) -> None:
    """As `curl -d` in Ollama's documentation sends it: a form content type."""
    import httpx

    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": False,
        "options": {"num_predict": 2},
    }
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.auth, timeout=120) as http:
        response = await http.post(
            "/api/chat",
            content=json.dumps(body),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["done"] is True
    assert response.json()["message"]["role"] == "assistant"


async def test_generate_stream(gateway: RunningGateway) -> None:
    parts = []
    last = None
    async for part in await _client(gateway).generate(
        model=MODEL, prompt="Count to three:", stream=True, options={"num_predict": 4}
    ):
        parts.append(part)
        last = part
    assert last is not None
    assert last.done is True
    assert all(not p.done for p in parts[:-1])
    assert "".join(p.response for p in parts)


async def test_chat_plain_and_stream(gateway: RunningGateway) -> None:
    client = _client(gateway)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    result = await client.chat(model=MODEL, messages=messages, options={"num_predict": 3})
    assert result.message.role == "assistant"
    assert result.message.content
    assert result.done
    pieces = [
        p.message.content
        async for p in await client.chat(
            model=MODEL, messages=messages, stream=True, options={"num_predict": 3}
        )
    ]
    assert "".join(pieces)


async def test_stop_option_is_honoured(gateway: RunningGateway) -> None:
    result = await _client(gateway).generate(
        model=MODEL,
        prompt="1, 2, 3, 4, 5, 6,",
        raw=True,
        options={"num_predict": 12, "stop": [","], "temperature": 0},
    )
    assert "," not in result.response
    assert result.done_reason == "stop"


async def test_tags_ps_version(gateway: RunningGateway) -> None:
    client = _client(gateway)
    tags = await client.list()
    assert [m.model for m in tags.models] == [MODEL]
    ps = await client.ps()
    assert [m.model for m in ps.models] == [MODEL]
    version = await gateway.client.get("/api/version")
    assert version.json()["version"]


async def test_show_reports_the_true_context_length(gateway: RunningGateway) -> None:
    shown = await _client(gateway).show(MODEL)
    info = shown.modelinfo or {}
    arch = info["general.architecture"]
    # No registry row for this model in the test database: the replica's report is used,
    # which is the model's training context (8192 for SmolLM2), not the server's -c.
    assert info[f"{arch}.context_length"] == 8192


async def test_unknown_model_is_ollama_404(gateway: RunningGateway) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        await _client(gateway).generate(model="nope:1b", prompt="x")
    assert info.value.status_code == 404
    assert "not found" in info.value.error


async def test_raw_ndjson_stream(gateway: RunningGateway) -> None:
    async with gateway.client.stream(
        "POST",
        "/api/chat",
        headers=gateway.auth,
        json={
            "model": MODEL,
            "messages": [{"role": "user", "content": "hi"}],
            "options": {"num_predict": 2},
        },
    ) as response:
        assert response.headers["content-type"] == "application/x-ndjson"
        objects = [json.loads(line) async for line in response.aiter_lines() if line]
    assert objects[-1]["done"] is True
    assert objects[-1]["eval_count"] >= 1
    assert all(o["model"] == MODEL for o in objects)


async def test_show_prefers_the_registry_row(gateway: RunningGateway, database_url: str) -> None:
    engine = make_engine(database_url, poolclass=NullPool)
    sessions = make_sessionmaker(engine)
    row_id = uuid.uuid4()
    try:
        async with unit_of_work(sessions) as db:
            db.add(
                Model(
                    uuid=row_id,
                    name=MODEL,
                    object_key="models/smol.gguf",
                    size_bytes=98,
                    sha256=secrets.token_hex(32),
                    architecture="llama",
                    context_length=8192,
                    parameter_count=134_515_008,
                    file_type="Q4_1",
                    gguf_metadata={
                        "general.name": "SmolLM2 135M Instruct",
                        "llama.context_length": 8192,
                        "llama.block_count": 30,
                    },
                )
            )
        shown = await _client(gateway).show(MODEL)
        info = shown.modelinfo or {}
        assert info["general.architecture"] == "llama"
        assert info["llama.context_length"] == 8192
        assert info["llama.block_count"] == 30
        assert info["general.name"] == "SmolLM2 135M Instruct"
        assert shown.details.family == "llama"
    finally:
        async with unit_of_work(sessions) as db:
            await db.execute(delete(Model).where(Model.uuid == row_id))
        await engine.dispose()
