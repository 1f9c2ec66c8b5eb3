"""Hugging Face TGI API through the gateway: `huggingface_hub.InferenceClient` and raw SSE."""

from __future__ import annotations

import asyncio
import json

from huggingface_hub import InferenceClient

from .conftest import MODEL, RunningGateway


def _client(gw: RunningGateway) -> InferenceClient:
    return InferenceClient(base_url=gw.url, api_key=gw.token)


async def test_text_generation_with_details(gateway: RunningGateway) -> None:
    result = await asyncio.to_thread(
        _client(gateway).text_generation,
        "The capital of France is",
        max_new_tokens=3,
        details=True,
    )
    assert result.generated_text
    assert result.details is not None
    assert result.details.finish_reason in ("length", "eos_token")
    assert 0 < result.details.generated_tokens <= 3


async def test_text_generation_stream(gateway: RunningGateway) -> None:
    def run() -> list[str]:
        client = _client(gateway)  # kept alive while the stream is read
        return list(client.text_generation("Once upon a time", max_new_tokens=3, stream=True))

    pieces = await asyncio.to_thread(run)
    assert "".join(pieces)


async def test_stop_sequence_finish_reason(gateway: RunningGateway) -> None:
    response = await gateway.client.post(
        "/generate",
        headers=gateway.auth,
        json={
            "inputs": "1, 2, 3, 4, 5,",
            "parameters": {"max_new_tokens": 10, "stop": [","], "details": True},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["details"]["finish_reason"] == "stop_sequence"
    assert "," not in body["generated_text"]


async def test_raw_generate_stream_and_info(gateway: RunningGateway) -> None:
    async with gateway.client.stream(
        "POST",
        "/generate_stream",
        headers=gateway.auth,
        json={"inputs": "Hello", "parameters": {"max_new_tokens": 2}},
    ) as response:
        events = [
            json.loads(line[5:])
            async for line in response.aiter_lines()
            if line.startswith("data:")
        ]
    assert events[-1]["generated_text"] is not None
    assert events[-1]["details"]["finish_reason"] == "length"
    info = await gateway.client.get("/info", headers=gateway.auth)
    assert info.json()["model_id"] == MODEL
    assert info.json()["max_total_tokens"] == 8192


async def test_invalid_is_tgi_422(gateway: RunningGateway) -> None:
    response = await gateway.client.post("/generate", headers=gateway.auth, json={"inputs": ""})
    assert response.status_code == 422
    assert response.json()["error_type"] == "validation"
