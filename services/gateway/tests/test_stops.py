from __future__ import annotations

import pytest

from inference_gateway.stops import StopScanner


@pytest.mark.parametrize(
    ("stops", "chunks", "emitted", "matched"),
    [
        ([], ["a", "b"], "ab", None),
        (["END"], ["hello ", "EN", "D more"], "hello ", "END"),
        (["END"], ["hello E", "ND"], "hello ", "END"),
        (["END"], ["hello E", "x"], "hello Ex", None),
        (["\n\n", "User:"], ["a\n", "b User:", " c"], "a\nb ", "User:"),
        (["ab", "b"], ["xab"], "x", "ab"),
        (["stop"], ["sto"], "sto", None),
        ([""], ["abc"], "abc", None),
    ],
)
def test_scanner_cuts_at_first_stop(
    stops: list[str], chunks: list[str], emitted: str, matched: str | None
) -> None:
    scanner = StopScanner(stops)
    out = "".join(scanner.feed(c) for c in chunks) + scanner.flush()
    assert out == emitted
    assert scanner.matched == matched
