"""Anthropic Messages wire format (/v1/messages): system prompt, stop sequences (matched by
the gateway so `stop_sequence` can be reported), thinking blocks from `<think>` text, and
the SSE event sequence message_start → content_block_* → message_delta → message_stop.
Pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from inference_gateway.errors import GatewayError, Kind
from inference_gateway.events import Usage
from inference_gateway.reasoning import Piece
from inference_gateway.settings import ReasoningMode


def thinking_separated(body: dict[str, Any], default: ReasoningMode) -> bool:
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "disabled"):
        return bool(thinking["type"] == "enabled")
    return default == "separate"


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if not isinstance(block, dict):
                raise GatewayError(Kind.INVALID, f"{where}: content blocks must be objects")
            kind = block.get("type")
            if kind == "text":
                parts.append(str(block.get("text", "")))
            elif kind in ("thinking", "redacted_thinking"):
                continue
            elif kind == "tool_result":
                parts.append(_text_of(block.get("content", ""), where))
            else:
                raise GatewayError(
                    Kind.INVALID, f"{where}: content block type {kind!r} is not supported"
                )
        return "".join(parts)
    raise GatewayError(Kind.INVALID, f"{where}: content must be a string or a list of blocks")


def chat_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _text_of(system, "system")})
    for i, message in enumerate(body.get("messages") or []):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise GatewayError(Kind.INVALID, f"messages.{i}.role must be 'user' or 'assistant'")
        messages.append(
            {"role": role, "content": _text_of(message.get("content"), f"messages.{i}")}
        )
    out: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": body["max_tokens"],
        "stream": True,
        "stream_options": {"include_usage": True},
        "reasoning_format": "none",
    }
    for key in ("temperature", "top_p", "top_k"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("grammar") is not None:  # llama.cpp extension (extra_body), passed through
        out["grammar"] = body["grammar"]
    return out


def stop_reason(upstream_finish: str | None, stop_sequence: str | None) -> str:
    if stop_sequence is not None:
        return "stop_sequence"
    if upstream_finish == "length":
        return "max_tokens"
    return "end_turn"


def _usage(usage: Usage | None) -> dict[str, int]:
    usage = usage or Usage()
    return {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens}


def _blocks(pieces: Sequence[Piece], separate: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for kind, text in pieces:
        if kind == "thinking" and separate:
            if blocks and blocks[-1]["type"] == "thinking":
                blocks[-1]["thinking"] += text
            else:
                blocks.append({"type": "thinking", "thinking": text, "signature": ""})
        else:
            if kind == "thinking":
                text = f"<think>{text}</think>"
            if blocks and blocks[-1]["type"] == "text":
                blocks[-1]["text"] += text
            else:
                blocks.append({"type": "text", "text": text})
    return blocks


def message_response(
    message_id: str,
    model: str,
    pieces: Sequence[Piece],
    separate: bool,
    finish: str | None,
    stop_sequence: str | None,
    usage: Usage | None,
) -> dict[str, Any]:
    content = _blocks(pieces, separate) or [{"type": "text", "text": ""}]
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(finish, stop_sequence),
        "stop_sequence": stop_sequence,
        "usage": _usage(usage),
    }


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@dataclass
class AnthropicStream:
    """Turns pieces into Anthropic SSE events; one block per run of the same kind."""

    message_id: str
    model: str
    separate: bool
    _index: int = -1
    _open: str | None = None
    _events: list[bytes] = field(default_factory=list)

    def start(self) -> bytes:
        return sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": self.message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 0, "output_tokens": 0},
                },
            },
        )

    def _open_block(self, kind: str) -> list[bytes]:
        out = self._close_block()
        self._index += 1
        self._open = kind
        block: dict[str, Any] = (
            {"type": "thinking", "thinking": "", "signature": ""}
            if kind == "thinking"
            else {"type": "text", "text": ""}
        )
        out.append(
            sse(
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": block},
            )
        )
        return out

    def _close_block(self) -> list[bytes]:
        if self._open is None:
            return []
        out = []
        if self._open == "thinking":
            out.append(
                sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": self._index,
                        "delta": {"type": "signature_delta", "signature": ""},
                    },
                )
            )
        out.append(sse("content_block_stop", {"type": "content_block_stop", "index": self._index}))
        self._open = None
        return out

    def pieces(self, pieces: Sequence[Piece]) -> list[bytes]:
        out: list[bytes] = []
        for kind, text in pieces:
            block = "thinking" if kind == "thinking" and self.separate else "text"
            if kind == "thinking" and not self.separate:
                text = f"<think>{text}</think>"
            if self._open != block:
                out += self._open_block(block)
            delta = (
                {"type": "thinking_delta", "thinking": text}
                if block == "thinking"
                else {"type": "text_delta", "text": text}
            )
            out.append(
                sse(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": self._index, "delta": delta},
                )
            )
        return out

    def finish(
        self, finish: str | None, stop_sequence: str | None, usage: Usage | None
    ) -> list[bytes]:
        out: list[bytes] = []
        if self._index < 0:
            out += self._open_block("text")
        out += self._close_block()
        out.append(
            sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": stop_reason(finish, stop_sequence),
                        "stop_sequence": stop_sequence,
                    },
                    "usage": _usage(usage),
                },
            )
        )
        out.append(sse("message_stop", {"type": "message_stop"}))
        return out

    @staticmethod
    def error(message: str) -> bytes:
        return sse("error", {"type": "error", "error": {"type": "api_error", "message": message}})
