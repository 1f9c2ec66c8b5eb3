"""OpenAI / vLLM API through the gateway against a real llama.cpp replica: the official
`openai` client and raw HTTP, streaming and not."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from .conftest import MODEL, RunningGateway


def _client(gw: RunningGateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=gw.token, max_retries=0)


async def test_chat_completion(gateway: RunningGateway) -> None:
    result = await _client(gateway).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Say hi"}],
        max_tokens=3,
        temperature=0,
    )
    assert result.model == MODEL
    assert result.object == "chat.completion"
    assert result.choices[0].message.role == "assistant"
    assert result.choices[0].message.content
    assert result.choices[0].finish_reason in ("length", "stop")
    assert result.usage is not None
    assert 0 < result.usage.completion_tokens <= 3


async def test_chat_completion_stream_with_usage(gateway: RunningGateway) -> None:
    stream = await _client(gateway).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Count: 1, 2,"}],
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    text = ""
    usage = None
    finish = None
    async for chunk in stream:
        assert chunk.model == MODEL
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text
    assert finish in ("length", "stop")
    assert usage is not None
    assert 0 < usage.completion_tokens <= 4


async def test_stream_without_usage_and_done_marker_raw_http(gateway: RunningGateway) -> None:
    async with gateway.client.stream(
        "POST",
        "/v1/chat/completions",
        headers=gateway.auth,
        json={
            "model": MODEL,
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 2,
            "stream": True,
        },
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-request-id"]
        lines = [line async for line in response.aiter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all("usage" not in c or c["usage"] is None for c in chunks)


async def test_completions_plain_and_stream(gateway: RunningGateway) -> None:
    client = _client(gateway)
    result = await client.completions.create(model=MODEL, prompt="The sky is", max_tokens=3)
    assert result.model == MODEL
    assert result.choices[0].text
    stream = await client.completions.create(
        model=MODEL, prompt="The sky is", max_tokens=3, stream=True
    )
    pieces = [c.choices[0].text async for c in stream if c.choices]
    assert "".join(pieces)


async def test_models_list(gateway: RunningGateway) -> None:
    models = await _client(gateway).models.list()
    assert [m.id for m in models.data] == [MODEL]


async def test_embeddings_on_a_model_without_embeddings_is_a_clear_400(
    gateway: RunningGateway,
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        await _client(gateway).embeddings.create(model=MODEL, input="hello")
    assert info.value.status_code == 400
    assert "does not serve embeddings" in info.value.message


async def test_unknown_model_is_openai_not_found(gateway: RunningGateway) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        await _client(gateway).chat.completions.create(
            model="nope:1b", messages=[{"role": "user", "content": "x"}], max_tokens=1
        )
    body = info.value.body
    assert isinstance(body, dict)
    assert body["code"] == "model_not_found"
    assert body["type"] == "invalid_request_error"


async def test_invalid_request_is_openai_400(gateway: RunningGateway) -> None:
    response = await gateway.client.post(
        "/v1/chat/completions", headers=gateway.auth, json={"model": MODEL, "messages": []}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    response = await gateway.client.post(
        "/v1/chat/completions",
        headers={**gateway.auth, "content-type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 400


async def test_alias_routes_to_the_same_model(gateway: RunningGateway) -> None:
    response = await gateway.client.post(
        "/v1/completions",
        headers=gateway.auth,
        json={"model": "smol-alias", "prompt": "a", "max_tokens": 1},
    )
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "smol-alias"


async def test_http_client_closed_gets_request_id(gateway: RunningGateway) -> None:
    response = await gateway.client.get("/v1/models", headers={"x-request-id": "abc-123"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "abc-123"
    assert isinstance(response.json()["error"], dict)
    assert response.status_code == httpx.codes.UNAUTHORIZED
