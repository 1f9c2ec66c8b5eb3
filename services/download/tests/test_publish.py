"""The publisher's pure parts: which files make a model, and the manifest they get."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference_download.manifest import parse_manifest
from inference_download.publish import build_manifest, describe, quantization_of, split_parts

from .sources import sha256_of, write_gguf


@pytest.mark.parametrize(
    ("names", "given", "expected"),
    [
        (["m.gguf"], "m.gguf", ["m.gguf"]),
        (["a-00001-of-00001.gguf"], "a-00001-of-00001.gguf", ["a-00001-of-00001.gguf"]),
        (
            ["a-00001-of-00003.gguf", "a-00002-of-00003.gguf", "a-00003-of-00003.gguf"],
            "a-00001-of-00003.gguf",
            ["a-00001-of-00003.gguf", "a-00002-of-00003.gguf", "a-00003-of-00003.gguf"],
        ),
        (
            ["a-00001-of-00002.gguf", "a-00002-of-00002.gguf", "b-00001-of-00002.gguf"],
            "a-00002-of-00002.gguf",
            ["a-00001-of-00002.gguf", "a-00002-of-00002.gguf"],
        ),
    ],
)
def test_split_parts(tmp_path: Path, names: list[str], given: str, expected: list[str]) -> None:
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in split_parts(tmp_path / given)] == expected


def test_a_missing_part_is_named(tmp_path: Path) -> None:
    (tmp_path / "a-00001-of-00002.gguf").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match=r"a-00002-of-00002\.gguf"):
        split_parts(tmp_path / "a-00001-of-00002.gguf")


def test_manifest_of_a_split_gguf_is_what_the_service_accepts(tmp_path: Path) -> None:
    parts = [write_gguf(tmp_path / f"t-0000{i}-of-00002.gguf") for i in (1, 2)]
    files = [describe(p) for p in parts]
    manifest = build_manifest("tiny:f32", quantization_of(parts[0]), "tests/tiny", files)
    parsed = parse_manifest(manifest.model_dump_json().encode())
    assert [f.key for f in parsed.files] == [p.name for p in parts]
    assert [f.sha256 for f in parsed.files] == [sha256_of(p) for p in parts]
    assert [f.size_bytes for f in parsed.files] == [p.stat().st_size for p in parts]
    assert parsed.quantization == "F16"  # write_gguf's file type 1
