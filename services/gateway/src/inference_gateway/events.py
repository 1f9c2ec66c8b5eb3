"""Upstream output as plain events: llama.cpp's OpenAI-compatible stream chunks (chat or
completions) become `Generated` pieces; `TextPipeline` applies stop sequences and the
`<think>` split. Pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from inference_gateway.reasoning import Piece, ThinkSplitter
from inference_gateway.stops import StopScanner


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_ms: float | None = None
    predicted_ms: float | None = None


@dataclass(frozen=True)
class Generated:
    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


def sse_data(line: str) -> str | None:
    """The payload of an SSE `data:` line; None for other lines (comments, event names)."""
    if not line.startswith("data:"):
        return None
    return line[5:].lstrip(" ")


def usage_of(chunk: dict[str, Any]) -> Usage | None:
    usage = chunk.get("usage")
    if not isinstance(usage, dict):
        return None
    raw_timings = chunk.get("timings")
    timings: dict[str, Any] = raw_timings if isinstance(raw_timings, dict) else {}
    return Usage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        prompt_ms=timings.get("prompt_ms"),
        predicted_ms=timings.get("predicted_ms"),
    )


def event_from_chunk(chunk: dict[str, Any]) -> Generated:
    choices = chunk.get("choices") or []
    text = reasoning = ""
    finish: str | None = None
    if choices:
        choice = choices[0]
        delta = choice.get("delta")
        if isinstance(delta, dict):
            text = delta.get("content") or ""
            reasoning = delta.get("reasoning_content") or ""
        else:
            text = choice.get("text") or ""
        finish = choice.get("finish_reason")
    return Generated(text=text, reasoning=reasoning, finish_reason=finish, usage=usage_of(chunk))


def parse_stream_line(line: str) -> Generated | None:
    """One upstream SSE line as an event; None for non-data lines and [DONE]."""
    data = sse_data(line)
    if data is None or data == "[DONE]" or not data:
        return None
    chunk = json.loads(data)
    if "error" in chunk:
        raise UpstreamStreamError(str(chunk["error"]))
    return event_from_chunk(chunk)


class UpstreamStreamError(Exception):
    """The replica reported an error inside the stream."""


@dataclass
class TextPipeline:
    """Stop sequences first (on the raw text), then the optional <think> split."""

    split_think: bool
    stops: Sequence[str] = ()
    _scanner: StopScanner = field(init=False)
    _splitter: ThinkSplitter = field(init=False)

    def __post_init__(self) -> None:
        self._scanner = StopScanner(self.stops)
        self._splitter = ThinkSplitter()

    @property
    def stop_sequence(self) -> str | None:
        return self._scanner.matched

    def feed(self, event: Generated) -> list[Piece]:
        pieces: list[Piece] = []
        if event.reasoning and self._scanner.matched is None:
            pieces.append(("thinking", event.reasoning))
        if event.text:
            pieces += self._text(self._scanner.feed(event.text))
        return pieces

    def flush(self) -> list[Piece]:
        pieces = self._text(self._scanner.flush())
        if self.split_think:
            pieces += self._splitter.flush()
        return pieces

    def _text(self, text: str) -> list[Piece]:
        if not text:
            return []
        if self.split_think:
            return self._splitter.feed(text)
        return [("content", text)]


def inline_thinking(pieces: Sequence[Piece], in_think: bool) -> tuple[str, bool]:
    """Pieces as one text with thinking wrapped in <think> tags (for APIs that keep
    reasoning inline while the upstream separated it). Returns (text, still_in_think)."""
    out: list[str] = []
    for kind, text in pieces:
        if kind == "thinking" and not in_think:
            out.append("<think>")
            in_think = True
        elif kind == "content" and in_think:
            out.append("</think>")
            in_think = False
        out.append(text)
    return "".join(out), in_think
