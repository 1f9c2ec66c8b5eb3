from __future__ import annotations

import json
from typing import Any

import pytest

from inference_gateway.apis import anthropic as api
from inference_gateway.errors import GatewayError
from inference_gateway.events import Usage


def test_chat_request_system_and_blocks() -> None:
    body = api.chat_request(
        {
            "system": [{"type": "text", "text": "Be terse."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": "Hello"},
            ],
            "max_tokens": 7,
            "temperature": 0.1,
        },
        "m",
    )
    assert body["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
    ]
    assert body["max_tokens"] == 7
    assert body["temperature"] == 0.1


def test_chat_request_rejects_unsupported_blocks() -> None:
    with pytest.raises(GatewayError) as info:
        api.chat_request(
            {"messages": [{"role": "user", "content": [{"type": "image"}]}], "max_tokens": 1}, "m"
        )
    assert "image" in info.value.message


@pytest.mark.parametrize(
    ("body", "default", "expected"),
    [
        ({}, "separate", True),
        ({}, "inline", False),
        ({"thinking": {"type": "enabled", "budget_tokens": 10}}, "inline", True),
        ({"thinking": {"type": "disabled"}}, "separate", False),
    ],
)
def test_thinking_separated(body: dict[str, Any], default: Any, expected: bool) -> None:
    assert api.thinking_separated(body, default) is expected


@pytest.mark.parametrize(
    ("finish", "stop", "reason"),
    [("length", None, "max_tokens"), ("stop", None, "end_turn"), ("stop", "X", "stop_sequence")],
)
def test_stop_reason(finish: str, stop: str | None, reason: str) -> None:
    assert api.stop_reason(finish, stop) == reason


def test_message_response_blocks() -> None:
    out = api.message_response(
        "msg_1", "m", [("thinking", "hm"), ("content", "42")], True, "stop", None, Usage(5, 2)
    )
    assert out["content"] == [
        {"type": "thinking", "thinking": "hm", "signature": ""},
        {"type": "text", "text": "42"},
    ]
    assert out["stop_reason"] == "end_turn"
    assert out["usage"] == {"input_tokens": 5, "output_tokens": 2}


def _events(raw: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for item in raw:
        event_line, data_line = item.decode().strip().split("\n")
        out.append(
            (event_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: ")))
        )
    return out


def test_stream_event_sequence() -> None:
    stream = api.AnthropicStream("msg_1", "m", separate=True)
    raw = [stream.start()]
    raw += stream.pieces([("thinking", "a")])
    raw += stream.pieces([("thinking", "b"), ("content", "c")])
    raw += stream.finish("stop", "END", Usage(3, 4))
    names = [name for name, _ in _events(raw)]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",  # signature
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    events = _events(raw)
    assert events[1][1]["content_block"]["type"] == "thinking"
    assert events[6][1]["index"] == 1
    assert events[7][1]["delta"] == {"type": "text_delta", "text": "c"}
    assert events[9][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    assert events[9][1]["usage"]["output_tokens"] == 4


def test_stream_with_no_output_still_has_one_block() -> None:
    stream = api.AnthropicStream("msg_1", "m", separate=False)
    names = [n for n, _ in _events([stream.start(), *stream.finish("length", None, None)])]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
