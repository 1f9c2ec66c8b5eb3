"""The gateway's access-log fields and llama.cpp's identifiers in its answers (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from inference_gateway.requestlog import access_fields, llama_identifiers, llama_log_key

# llama.cpp's own lines for these timings, verbatim from the xllamacpp build's log
LLAMA_LINES = [
    (
        72.023,
        31,
        "slot print_timing: id  0 | task 0 | prompt eval time =      72.02 ms /    31 tokens"
        " (    2.32 ms per token,   430.42 tokens per second)",
    ),
    (
        6.639,
        1,
        "slot print_timing: id  0 | task 5 | prompt eval time =       6.64 ms /     1 tokens"
        " (    6.64 ms per token,   150.63 tokens per second)",
    ),
]


@pytest.mark.parametrize(("prompt_ms", "prompt_n", "line"), LLAMA_LINES)
def test_the_log_key_is_llama_cpps_own_text(prompt_ms: float, prompt_n: int, line: str) -> None:
    assert llama_log_key(prompt_ms, prompt_n) in line


TIMINGS = {"prompt_n": 31, "prompt_ms": 72.023, "predicted_n": 4, "predicted_ms": 19.699}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            {"id": "chatcmpl-a", "timings": {**TIMINGS, "cache_n": 0}},
            {
                "llama_completion_id": "chatcmpl-a",
                "llama_prompt_n": 31,
                "llama_prompt_ms": 72.023,
                "llama_predicted_n": 4,
                "llama_predicted_ms": 19.699,
                "llama_log_key": "prompt eval time =      72.02 ms /    31 tokens",
            },
        ),
        ({"id": "chatcmpl-b", "choices": []}, {"llama_completion_id": "chatcmpl-b"}),
        ({"data": [{"embedding": [0.1]}]}, {}),
        ({"id": 5, "timings": {**TIMINGS, "prompt_ms": None}}, {}),
        ({"timings": {**TIMINGS, "prompt_n": True}}, {}),
        ({"timings": "soon"}, {}),
    ],
)
def test_llama_identifiers(answer: dict[str, Any], expected: dict[str, Any]) -> None:
    assert llama_identifiers(answer) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            ("openai", "m", "u1", "http://10.0.0.1:8080", "done", None, 4, 0.0123, 0.05, {}),
            {
                "api": "openai",
                "model": "m",
                "server_uuid": "u1",
                "replica": "http://10.0.0.1:8080",
                "outcome": "done",
                "tokens": 4,
                "upstream_ms": 12.3,
                "ttft_ms": 50.0,
            },
        ),
        (
            ("tgi", "m", None, None, "failed", "unavailable", 0, None, None, {}),
            {"api": "tgi", "model": "m", "outcome": "failed", "error": "unavailable", "tokens": 0},
        ),
        (
            ("ollama", "m", "u", "r", "done", None, 1, 0.001, None, {"llama_log_key": "k"}),
            {
                "api": "ollama",
                "model": "m",
                "server_uuid": "u",
                "replica": "r",
                "outcome": "done",
                "tokens": 1,
                "upstream_ms": 1.0,
                "llama_log_key": "k",
            },
        ),
    ],
)
def test_access_fields_leave_out_what_is_unknown(
    values: tuple[Any, ...], expected: dict[str, Any]
) -> None:
    assert access_fields(*values) == expected
