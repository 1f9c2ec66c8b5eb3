"""OpenAI / vLLM wire format. The replica (llama.cpp) already speaks it, so requests pass
through with the gateway's own fields taken out; responses get the client's model name and
`<think>` text moved to `reasoning_content` when reasoning is separated. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inference_gateway.errors import GatewayError, Kind
from inference_gateway.reasoning import ThinkSplitter, split_reasoning
from inference_gateway.settings import ReasoningMode

# Per-request reasoning control (vLLM/llama.cpp spell it reasoning_format).
_SEPARATE = {"separate", "deepseek", "parsed", "auto"}
_INLINE = {"none", "inline"}


def reasoning_separated(body: dict[str, Any], default: ReasoningMode) -> bool:
    value = body.get("reasoning_format")
    if value is None:
        return default == "separate"
    if value in _SEPARATE:
        return True
    if value in _INLINE:
        return False
    raise GatewayError(
        Kind.INVALID,
        "reasoning_format must be one of: separate, deepseek, auto, none, inline",
        param="reasoning_format",
    )


def upstream_body(body: dict[str, Any], stream: bool) -> dict[str, Any]:
    """The request for the replica: stream usage always on (the gateway meters tokens)."""
    out = {k: v for k, v in body.items() if k != "reasoning_format"}
    if stream:
        options = dict(out.get("stream_options") or {})
        options["include_usage"] = True
        out["stream_options"] = options
    # keep <think> text in content; the gateway decides where it goes
    out["reasoning_format"] = "none"
    return out


def wants_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def chat_response(upstream: dict[str, Any], model: str, separate: bool) -> dict[str, Any]:
    out = dict(upstream)
    out["model"] = model
    out.pop("timings", None)
    choices = []
    for choice in upstream.get("choices") or []:
        choice = dict(choice)
        message = dict(choice.get("message") or {})
        content = message.get("content")
        if separate and isinstance(content, str):
            thinking, text = split_reasoning(content)
            message["content"] = text
            if thinking:
                message["reasoning_content"] = thinking
        choice["message"] = message
        choices.append(choice)
    out["choices"] = choices
    return out


def completion_response(upstream: dict[str, Any], model: str) -> dict[str, Any]:
    out = dict(upstream)
    out["model"] = model
    out.pop("timings", None)
    return out


@dataclass
class ChunkRewriter:
    """Rewrites stream chunks one by one. Returns None for a chunk to drop (the usage-only
    chunk when the client did not ask for usage)."""

    model: str
    separate: bool
    include_usage: bool
    chat: bool = True
    _splitters: dict[int, ThinkSplitter] = field(default_factory=dict)

    def rewrite(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        chunk["model"] = self.model
        chunk.pop("timings", None)
        if not self.include_usage:
            chunk.pop("usage", None)
            if not chunk.get("choices"):
                return None
        elif "usage" not in chunk and chunk.get("choices"):
            chunk["usage"] = None
        if self.chat and self.separate:
            for choice in chunk.get("choices") or []:
                self._split(choice)
        return chunk

    def _split(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        splitter = self._splitters.setdefault(int(choice.get("index") or 0), ThinkSplitter())
        content = delta.get("content")
        pieces = splitter.feed(content) if isinstance(content, str) and content else []
        if choice.get("finish_reason") is not None:
            pieces += splitter.flush()
        if not isinstance(content, str) and not pieces:
            return
        thinking = "".join(t for k, t in pieces if k == "thinking")
        text = "".join(t for k, t in pieces if k == "content")
        upstream_reasoning = delta.get("reasoning_content") or ""
        delta["content"] = text if text or not (thinking or upstream_reasoning) else None
        if thinking or upstream_reasoning:
            delta["reasoning_content"] = upstream_reasoning + thinking


def models_list(entries: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": created, "owned_by": "inference-service"}
            for name, created in entries
        ],
    }


def embeddings_unsupported(model: str) -> GatewayError:
    return GatewayError(
        Kind.NOT_SUPPORTED,
        f"model {model!r} does not serve embeddings (its llama.cpp server runs without "
        "--embeddings); serve an embedding model with --embeddings to use /v1/embeddings",
        param="model",
        code="embeddings_not_supported",
    )
