from __future__ import annotations

import pytest

from inference_gateway.reasoning import ThinkSplitter, split_reasoning


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (["hello"], [("content", "hello")]),
        (["<think>why</think>because"], [("thinking", "why"), ("content", "because")]),
        (["<thi", "nk>a", "b</th", "ink>c"], [("thinking", "ab"), ("content", "c")]),
        (["x<", "y"], [("content", "x<y")]),
        (["<think>", "never closed"], [("thinking", "never closed")]),
        (["a<think", "b"], [("content", "a<thinkb")]),
        (["<think></think>"], []),
        (
            ["pre<think>t</think>mid<think>u</think>post"],
            [
                ("content", "pre"),
                ("thinking", "t"),
                ("content", "mid"),
                ("thinking", "u"),
                ("content", "post"),
            ],
        ),
        (["<think>t</think", ""], [("thinking", "t"), ("thinking", "</think")]),
    ],
)
def test_splitter_handles_tags_across_chunks(
    chunks: list[str], expected: list[tuple[str, str]]
) -> None:
    splitter = ThinkSplitter()
    out: list[tuple[str, str]] = []
    for chunk in chunks:
        out += splitter.feed(chunk)
    out += splitter.flush()
    merged: list[tuple[str, str]] = []
    for kind, text in out:
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        else:
            merged.append((kind, text))
    expected_merged: list[tuple[str, str]] = []
    for kind, text in expected:
        if expected_merged and expected_merged[-1][0] == kind:
            expected_merged[-1] = (kind, expected_merged[-1][1] + text)
        else:
            expected_merged.append((kind, text))
    assert merged == expected_merged


@pytest.mark.parametrize(
    ("text", "thinking", "content"),
    [
        ("plain", "", "plain"),
        ("<think>reason</think>answer", "reason", "answer"),
        ("<think>only", "only", ""),
    ],
)
def test_split_reasoning_whole_text(text: str, thinking: str, content: str) -> None:
    assert split_reasoning(text) == (thinking, content)
