from __future__ import annotations

from typing import Any

import pytest

from inference_gateway.apis import ollama as api
from inference_gateway.errors import GatewayError
from inference_gateway.events import Usage
from inference_gateway.model_facts import ModelFacts


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (None, {}),
        ({"num_predict": 8}, {"max_tokens": 8}),
        ({"num_predict": -1}, {}),
        ({"num_ctx": 4096}, {}),
        (
            {"temperature": 0.2, "top_p": 0.9, "seed": 1},
            {"temperature": 0.2, "top_p": 0.9, "seed": 1},
        ),
        ({"stop": ["\n", "User:"]}, {"stop": ["\n", "User:"]}),
        ({"stop": "x"}, {"stop": ["x"]}),
        ({"repeat_penalty": 1.1, "top_k": 5}, {"repeat_penalty": 1.1, "top_k": 5}),
        ({"mirostat": 2}, {}),
    ],
)
def test_options_to_openai(options: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    assert api.options_to_openai(options) == expected


def test_generate_request_templated_and_raw() -> None:
    path, body = api.generate_request(
        {"prompt": "hi", "system": "be brief", "options": {"num_predict": 3}}, "m"
    )
    assert path == "/v1/chat/completions"
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert body["max_tokens"] == 3
    assert body["stream"] is True
    path, body = api.generate_request({"prompt": "raw text", "raw": True}, "m")
    assert path == "/v1/completions"
    assert body["prompt"] == "raw text"


def test_chat_request_maps_format() -> None:
    body = api.chat_request({"messages": [{"role": "user", "content": "x"}], "format": "json"}, "m")
    assert body["response_format"] == {"type": "json_object"}
    with pytest.raises(GatewayError):
        api.chat_request({"messages": [], "format": 5}, "m")


@pytest.mark.parametrize(
    ("think", "pieces", "content", "thinking"),
    [
        (False, [("content", "<think>a</think>b")], "<think>a</think>b", ""),
        (True, [("thinking", "a"), ("content", "b")], "b", "a"),
    ],
)
def test_encoder_chat_chunks(think: bool, pieces: list[Any], content: str, thinking: str) -> None:
    encoder = api.OllamaEncoder("m", chat=True, think=think)
    chunk = encoder.chunk(pieces)
    assert chunk is not None
    assert chunk["done"] is False
    assert chunk["message"]["content"] == content
    assert chunk["message"].get("thinking", "") == thinking
    final = encoder.final("stop", Usage(3, 2, 1.0, 2.0), 0.5, whole=True)
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    assert final["message"]["content"] == content
    assert final["prompt_eval_count"] == 3
    assert final["eval_count"] == 2
    assert final["eval_duration"] == 2_000_000
    assert final["total_duration"] == 500_000_000


def test_encoder_generate_final_stream_has_empty_response() -> None:
    encoder = api.OllamaEncoder("m", chat=False, think=False)
    assert encoder.chunk([("content", "x")]) is not None
    assert encoder.chunk([]) is None
    final = encoder.final("length", None, 0.1, whole=False)
    assert final["response"] == ""
    assert final["done_reason"] == "length"
    assert final["created_at"].endswith("Z")


def test_show_response_carries_arch_context_length_and_metadata() -> None:
    facts = ModelFacts(
        source="registry",
        architecture="llama",
        context_length=8192,
        parameter_count=134_515_008,
        file_type="Q4_1",
        metadata={"general.name": "SmolLM2", "tokenizer.ggml.tokens": ["a"] * 100},
    )
    out = api.show_response(facts, 0)
    info = out["model_info"]
    assert info["general.architecture"] == "llama"
    assert info["llama.context_length"] == 8192
    assert info["general.name"] == "SmolLM2"
    assert info["tokenizer.ggml.tokens"] is None
    assert out["details"]["parameter_size"] == "134.5M"
    assert out["details"]["quantization_level"] == "Q4_1"
