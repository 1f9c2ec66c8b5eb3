from __future__ import annotations

from typing import Any

import pytest

from inference_gateway.apis import openai as api
from inference_gateway.errors import GatewayError


@pytest.mark.parametrize(
    ("body", "default", "expected"),
    [
        ({}, "separate", True),
        ({}, "inline", False),
        ({"reasoning_format": "none"}, "separate", False),
        ({"reasoning_format": "deepseek"}, "inline", True),
        ({"reasoning_format": "inline"}, "separate", False),
    ],
)
def test_reasoning_separated(body: dict[str, Any], default: Any, expected: bool) -> None:
    assert api.reasoning_separated(body, default) is expected


def test_reasoning_format_rejects_unknown_values() -> None:
    with pytest.raises(GatewayError) as info:
        api.reasoning_separated({"reasoning_format": "sideways"}, "separate")
    assert info.value.status == 400


def test_upstream_body_turns_on_stream_usage_and_keeps_extensions() -> None:
    body = {"messages": [], "stream": True, "grammar": 'root ::= "x"', "reasoning_format": "none"}
    out = api.upstream_body(body, stream=True)
    assert out["stream_options"] == {"include_usage": True}
    assert out["grammar"] == body["grammar"]
    assert out["reasoning_format"] == "none"
    assert "stream_options" not in api.upstream_body({"messages": []}, stream=False)


def test_chat_response_moves_thinking_and_renames_model() -> None:
    upstream = {
        "id": "c1",
        "object": "chat.completion",
        "model": "/models/x.gguf",
        "timings": {},
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "<think>hm</think>42"},
            }
        ],
    }
    out = api.chat_response(upstream, "smollm2:135m", separate=True)
    assert out["model"] == "smollm2:135m"
    assert "timings" not in out
    assert out["choices"][0]["message"] == {
        "role": "assistant",
        "content": "42",
        "reasoning_content": "hm",
    }
    kept = api.chat_response(upstream, "m", separate=False)
    assert kept["choices"][0]["message"]["content"] == "<think>hm</think>42"


def _chunk(content: str | None, finish: str | None = None) -> dict[str, Any]:
    delta: dict[str, Any] = {} if content is None else {"content": content}
    return {
        "object": "chat.completion.chunk",
        "model": "/x.gguf",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def test_chunk_rewriter_splits_reasoning_across_chunks() -> None:
    rewriter = api.ChunkRewriter("m", separate=True, include_usage=False)
    outs = [rewriter.rewrite(_chunk(c)) for c in ["<thi", "nk>a", "</think>", "b"]]
    outs.append(rewriter.rewrite(_chunk(None, "stop")))
    deltas = [o["choices"][0]["delta"] for o in outs if o is not None]
    reasoning = "".join(d.get("reasoning_content") or "" for d in deltas)
    content = "".join(d.get("content") or "" for d in deltas)
    assert (reasoning, content) == ("a", "b")
    assert all(o is not None and o["model"] == "m" for o in outs)


def test_chunk_rewriter_drops_usage_chunk_unless_asked() -> None:
    usage_chunk = {"choices": [], "usage": {"completion_tokens": 1}, "model": "x"}
    assert api.ChunkRewriter("m", True, include_usage=False).rewrite(dict(usage_chunk)) is None
    kept = api.ChunkRewriter("m", True, include_usage=True).rewrite(dict(usage_chunk))
    assert kept is not None
    assert kept["usage"] == {"completion_tokens": 1}
    normal = api.ChunkRewriter("m", True, include_usage=True).rewrite(_chunk("a"))
    assert normal is not None
    assert normal["usage"] is None


def test_models_list_shape() -> None:
    assert api.models_list([("a", 5)]) == {
        "object": "list",
        "data": [{"id": "a", "object": "model", "created": 5, "owned_by": "inference-service"}],
    }


def test_embeddings_unsupported_is_a_clear_400() -> None:
    error = api.embeddings_unsupported("smollm2:135m")
    assert error.status == 400
    assert "--embeddings" in error.message
