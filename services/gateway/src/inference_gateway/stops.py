"""Stop-sequence detection on streamed text, for APIs that must report which sequence
stopped generation (Anthropic's stop_sequence, TGI's finish_reason). Pure and incremental."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class StopScanner:
    """`feed` returns the text that is safe to emit; once a stop sequence is seen, `matched`
    is set and everything from it on is dropped."""

    stops: Sequence[str]
    matched: str | None = None
    _held: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        self.stops = [s for s in self.stops if s]
        self._longest = max((len(s) for s in self.stops), default=0)

    def feed(self, text: str) -> str:
        if self.matched is not None:
            return ""
        if not self.stops:
            return text
        buffer = self._held + text
        first: tuple[int, str] | None = None
        for stop in self.stops:
            index = buffer.find(stop)
            if index >= 0 and (first is None or index < first[0]):
                first = (index, stop)
        if first is not None:
            self.matched = first[1]
            self._held = ""
            return buffer[: first[0]]
        keep = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(buffer)), 0, -1):
                if buffer.endswith(stop[:n]):
                    keep = max(keep, n)
                    break
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return "" if self.matched is not None else held
