"""Anthropic Messages API through the gateway with the official `anthropic` client."""

from __future__ import annotations

import anthropic
import pytest

from .conftest import MODEL, RunningGateway


def _client(gw: RunningGateway) -> anthropic.AsyncAnthropic:
    # the client sends the key as `x-api-key`
    return anthropic.AsyncAnthropic(base_url=gw.url, api_key=gw.token, max_retries=0)


async def test_message_with_system(gateway: RunningGateway) -> None:
    message = await _client(gateway).messages.create(
        model=MODEL,
        max_tokens=3,
        system="You are terse.",
        messages=[{"role": "user", "content": "Hello"}],
    )
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == MODEL
    assert message.content[0].type == "text"
    assert message.stop_reason in ("max_tokens", "end_turn")
    assert message.usage.output_tokens <= 3


async def test_stop_sequence(gateway: RunningGateway) -> None:
    # the output is forced to "one, two" (llama.cpp grammar), so the stop must match
    message = await _client(gateway).messages.create(
        model=MODEL,
        max_tokens=20,
        stop_sequences=[","],
        messages=[{"role": "user", "content": "Count"}],
        extra_body={"grammar": 'root ::= "one, two"'},
    )
    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == ","
    assert message.content[0].type == "text"
    assert message.content[0].text == "one"


async def test_stream_event_sequence(gateway: RunningGateway) -> None:
    kinds: list[str] = []
    async with _client(gateway).messages.stream(
        model=MODEL, max_tokens=3, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        async for event in stream:
            kinds.append(event.type)
        final = await stream.get_final_message()
    assert kinds[0] == "message_start"
    assert "content_block_start" in kinds
    assert "content_block_stop" in kinds
    assert kinds[-1] == "message_stop"
    assert final.content[0].type == "text"
    assert final.stop_reason in ("max_tokens", "end_turn")


async def test_unknown_model_is_anthropic_not_found(gateway: RunningGateway) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        await _client(gateway).messages.create(
            model="nope", max_tokens=1, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model 'nope' not found"},
    }


async def test_missing_max_tokens_is_invalid_request(gateway: RunningGateway) -> None:
    response = await gateway.client.post(
        "/v1/messages",
        headers={"x-api-key": gateway.token},
        json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
