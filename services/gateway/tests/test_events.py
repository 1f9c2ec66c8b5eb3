from __future__ import annotations

import pytest

from inference_gateway.events import (
    Generated,
    TextPipeline,
    UpstreamStreamError,
    Usage,
    event_from_chunk,
    inline_thinking,
    parse_stream_line,
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", None),
        (": ping", None),
        ("data: [DONE]", None),
        ('data: {"choices":[{"delta":{"content":"hi"},"index":0}]}', Generated(text="hi")),
        (
            'data: {"choices":[{"text":"hi","finish_reason":"length"}]}',
            Generated(text="hi", finish_reason="length"),
        ),
        ('data: {"choices":[{"delta":{"reasoning_content":"r"}}]}', Generated(reasoning="r")),
        (
            'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2},'
            '"timings":{"prompt_ms":1.5,"predicted_ms":2.5}}',
            Generated(usage=Usage(3, 2, 1.5, 2.5)),
        ),
    ],
)
def test_parse_stream_line(line: str, expected: Generated | None) -> None:
    assert parse_stream_line(line) == expected


def test_error_chunk_raises() -> None:
    with pytest.raises(UpstreamStreamError):
        parse_stream_line('data: {"error":{"message":"boom"}}')


def test_event_from_chat_chunk_with_finish() -> None:
    chunk = {"choices": [{"delta": {}, "finish_reason": "stop", "index": 0}]}
    assert event_from_chunk(chunk) == Generated(finish_reason="stop")


@pytest.mark.parametrize(
    ("split", "stops", "texts", "pieces", "stop"),
    [
        (False, [], ["<think>a</think>b"], [("content", "<think>a</think>b")], None),
        (True, [], ["<think>a</think>b"], [("thinking", "a"), ("content", "b")], None),
        (
            True,
            ["STOP"],
            ["<think>a</think>bST", "OPc"],
            [("thinking", "a"), ("content", "b")],
            "STOP",
        ),
        (False, ["\n"], ["one\ntwo"], [("content", "one")], "\n"),
    ],
)
def test_pipeline(
    split: bool, stops: list[str], texts: list[str], pieces: list[tuple[str, str]], stop: str | None
) -> None:
    pipeline = TextPipeline(split_think=split, stops=stops)
    out = []
    for text in texts:
        out += pipeline.feed(Generated(text=text))
    out += pipeline.flush()
    assert out == pieces
    assert pipeline.stop_sequence == stop


@pytest.mark.parametrize(
    ("pieces", "in_think", "text", "after"),
    [
        ([("content", "a")], False, "a", False),
        ([("thinking", "t"), ("content", "a")], False, "<think>t</think>a", False),
        ([("thinking", "t")], False, "<think>t", True),
        ([("thinking", "u"), ("content", "b")], True, "u</think>b", False),
    ],
)
def test_inline_thinking(
    pieces: list[tuple[str, str]], in_think: bool, text: str, after: bool
) -> None:
    assert inline_thinking(pieces, in_think) == (text, after)  # type: ignore[arg-type]
