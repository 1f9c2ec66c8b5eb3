"""split_lines: complete lines out of a stream's chunks, whatever the chunk boundaries."""

from __future__ import annotations

import pytest

from inference_gateway.upstream import split_lines


@pytest.mark.parametrize(
    ("chunks", "lines", "rest"),
    [
        ([b"data: a\n\n"], ["data: a", ""], b""),
        ([b"data: a\r\n\r\n"], ["data: a", ""], b""),
        ([b"da", b"ta: a", b"\n"], ["data: a"], b""),
        ([b"data: a\ndata: b"], ["data: a"], b"data: b"),
        ([b"data: a\r", b"\ndata: b\n"], ["data: a", "data: b"], b""),
        ([b"", b"no newline yet"], [], b"no newline yet"),
        ([b"\xc3", b"\xa9\n"], ["\u00e9"], b""),
    ],
)
def test_split_lines(chunks: list[bytes], lines: list[str], rest: bytes) -> None:
    buffer = bytearray()
    out: list[bytes] = []
    for chunk in chunks:
        out += split_lines(buffer, chunk)
    assert [line.decode() for line in out] == lines
    assert bytes(buffer) == rest
