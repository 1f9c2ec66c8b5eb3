"""Splits `<think>…</think>` reasoning out of generated text, also when the tags arrive cut
across stream chunks. Pure and incremental: feed text pieces, get (kind, text) pieces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

PieceKind = Literal["thinking", "content"]
Piece = tuple[PieceKind, str]


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of text that is a proper prefix of tag."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


@dataclass
class ThinkSplitter:
    """State machine over the text stream; `feed` may hold back a possible partial tag."""

    in_think: bool = False
    _held: str = field(default="", repr=False)

    def feed(self, text: str) -> list[Piece]:
        buffer = self._held + text
        self._held = ""
        out: list[Piece] = []
        while buffer:
            tag = CLOSE_TAG if self.in_think else OPEN_TAG
            kind: PieceKind = "thinking" if self.in_think else "content"
            index = buffer.find(tag)
            if index >= 0:
                if index:
                    out.append((kind, buffer[:index]))
                buffer = buffer[index + len(tag) :]
                self.in_think = not self.in_think
                continue
            keep = _partial_suffix(buffer, tag)
            emit = buffer[: len(buffer) - keep]
            if emit:
                out.append((kind, emit))
            self._held = buffer[len(buffer) - keep :]
            break
        return _merge(out)

    def flush(self) -> list[Piece]:
        """What is held back at the end of the stream (an unfinished tag is plain text)."""
        held, self._held = self._held, ""
        if not held:
            return []
        return [("thinking" if self.in_think else "content", held)]


def _merge(pieces: list[Piece]) -> list[Piece]:
    merged: list[Piece] = []
    for kind, text in pieces:
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return merged


def split_reasoning(text: str) -> tuple[str, str]:
    """Whole-text form: (thinking, content)."""
    splitter = ThinkSplitter()
    pieces = splitter.feed(text) + splitter.flush()
    thinking = "".join(t for k, t in pieces if k == "thinking")
    content = "".join(t for k, t in pieces if k == "content")
    return thinking, content
