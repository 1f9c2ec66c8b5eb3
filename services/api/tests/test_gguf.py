from __future__ import annotations

import json
import struct
import tracemalloc
from pathlib import Path

import gguf
import pytest

from inference_common.gguf import (
    GGML_BLOCK_SIZES,
    KEPT_KEY_BYTES,
    KEPT_METADATA_BYTES,
    MAX_ARRAY_LENGTH,
    MAX_STRING_BYTES,
    GGUFError,
    GGUFStreamParser,
    parse_gguf,
)
from inference_common.gguf_header import FILE_TYPES
from inference_localstack.embedded_model import embedded_model_path

from .gguf_files import bloated_gguf, gguf_bytes, gguf_string, kv, raw_header, tensor_info


def test_parses_a_file_written_by_the_reference_writer(tmp_path: Path) -> None:
    data = gguf_bytes(tmp_path)
    header = parse_gguf(data)
    reader = gguf.GGUFReader(tmp_path / "t.gguf")

    assert header.version == 3
    assert header.architecture == "llama"
    assert header.context_length == 4096
    assert header.file_type == "F16"
    assert header.tokenizer_model == "llama"
    assert header.vocab_size == 100
    assert header.chat_template is not None
    assert "messages" in header.chat_template
    assert header.metadata["test.small_ints"] == [1, 2, 3]
    assert header.metadata["test.float"] == 1.5
    assert header.metadata["test.flag"] is True
    assert header.tensor_count == len(reader.tensors)
    assert header.parameter_count == sum(int(t.n_elements) for t in reader.tensors)
    assert header.expected_size == len(data)
    assert header.header_bytes == reader.data_offset
    assert header.tensor_types == {"F32": 1, "F16": 1}


@pytest.mark.parametrize("chunk", [1, 7, 64, 4096, 1 << 20])
def test_result_does_not_depend_on_chunking(tmp_path: Path, chunk: int) -> None:
    data = gguf_bytes(tmp_path)
    assert parse_gguf(data, chunk_size=chunk) == parse_gguf(data)


def test_a_large_piece_fed_at_once_is_not_copied_whole(tmp_path: Path) -> None:
    """A writer feeds whole parts (8 MiB): the parser copies only what it parses."""
    header = gguf_bytes(tmp_path)
    piece = header + bytes(8 * 1024**2)
    parser = GGUFStreamParser()
    tracemalloc.start()
    try:
        parser.feed(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert parser.header == parse_gguf(header)
    assert parser.total_bytes == len(piece)
    assert peak < 2 * 1024**2, f"{peak / 1024**2:.1f} MiB"


def test_big_arrays_are_summarised_not_stored(tmp_path: Path) -> None:
    header = parse_gguf(gguf_bytes(tmp_path, tokens=5000))
    assert header.metadata["tokenizer.ggml.tokens"] == {"array_of": "string", "length": 5000}
    assert header.vocab_size == 5000


def test_embedded_model_matches_the_reference_reader() -> None:
    path = embedded_model_path()
    parser = GGUFStreamParser()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            parser.feed(block)
    header = parser.finish()
    reader = gguf.GGUFReader(path)

    def field(name: str) -> object:
        return reader.get_field(name).contents()

    assert header.architecture == field("general.architecture") == "llama"
    assert header.context_length == field("llama.context_length")
    assert header.parameter_count == sum(int(t.n_elements) for t in reader.tensors)
    assert 130_000_000 < header.parameter_count < 140_000_000  # SmolLM2-135M
    assert header.file_type == gguf.LlamaFileType(field("general.file_type")).name.removeprefix(
        "MOSTLY_"
    )
    assert header.file_type == "Q4_1"
    assert header.tokenizer_model == field("tokenizer.ggml.model")
    assert header.vocab_size == len(reader.get_field("tokenizer.ggml.tokens").data)
    assert header.chat_template == field("tokenizer.chat_template")
    assert header.tensor_count == len(reader.tensors)
    assert header.header_bytes == reader.data_offset
    assert header.expected_size == path.stat().st_size


def test_block_size_table_matches_ggml() -> None:
    for ggml_type, sizes in GGML_BLOCK_SIZES.items():
        assert gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ggml_type)] == sizes


def test_file_type_names_match_llama_cpp() -> None:
    for value, name in FILE_TYPES.items():
        reference = gguf.LlamaFileType(value).name
        assert reference in (name, f"MOSTLY_{name}", f"ALL_{name}")


_U32 = 4
_STRING = 8
_ARRAY = 9


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GGML" + b"\0" * 20, "bad magic"),
        (b"PK\x03\x04" + b"\0" * 20, "bad magic"),
        (raw_header(version=1), "unsupported GGUF version 1"),
        (raw_header(version=0x03000000), "unsupported GGUF version"),  # big-endian file
        (raw_header(tensors=1 << 40), "tensor count"),
        (raw_header(kvs=[kv("k", 99, b"")]), "unknown metadata value type 99"),
        (
            raw_header(kvs=[gguf_string("k", declared=MAX_STRING_BYTES + 1)]),
            "exceeds the limit",
        ),
        (
            raw_header(kvs=[kv("k", _STRING, gguf_string("", declared=1 << 62))]),
            "exceeds the limit",
        ),
        (
            raw_header(kvs=[kv("k", _ARRAY, struct.pack("<IQ", _U32, MAX_ARRAY_LENGTH + 1))]),
            "exceeds the limit",
        ),
        (
            raw_header(kvs=[kv("k", _ARRAY, struct.pack("<IQ", _ARRAY, 1))]),
            "nested arrays",
        ),
        (
            raw_header(tensors=1, tensor_infos=[tensor_info("t", [1] * 5, 0, 0)]),
            "5 dimensions",
        ),
        (
            raw_header(tensors=1, tensor_infos=[tensor_info("t", [33], 2, 0)]),
            "not a whole block",
        ),
        (
            raw_header(kvs=[kv("general.alignment", _U32, struct.pack("<I", 3))]),
            "invalid general.alignment",
        ),
    ],
)
def test_malformed_headers_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(GGUFError, match=message):
        parse_gguf(data)


def test_header_size_limit() -> None:
    data = raw_header(kvs=[kv(f"k{i}", _STRING, gguf_string("x" * 100)) for i in range(50)])
    parser = GGUFStreamParser(max_header_bytes=1024)
    with pytest.raises(GGUFError, match="larger than the limit"):
        parser.feed(data)


@pytest.mark.parametrize("cut", [0, 3, 4, 10, 24, 100, 600, 1200])
def test_truncated_inside_the_header(tmp_path: Path, cut: int) -> None:
    data = gguf_bytes(tmp_path)
    with pytest.raises(GGUFError, match="truncated"):
        parse_gguf(data[:cut])


@pytest.mark.parametrize("missing", [1, 100, 192])
def test_truncated_inside_the_tensor_data(tmp_path: Path, missing: int) -> None:
    data = gguf_bytes(tmp_path)
    with pytest.raises(GGUFError, match="truncated GGUF file"):
        parse_gguf(data[:-missing])


def test_non_finite_floats_and_nul_bytes_are_made_json_safe() -> None:
    data = raw_header(
        kvs=[
            kv("nan", 6, struct.pack("<f", float("nan"))),
            kv("nul", _STRING, gguf_string(b"a\x00b\xff")),
            kv("empty", _STRING, gguf_string("")),
        ]
    )
    header = parse_gguf(data)
    assert header.metadata["nan"] == "nan"
    assert header.metadata["nul"] == "ab\ufffd"
    assert header.metadata["empty"] == ""


@pytest.mark.parametrize("metadata_mib", [1, 4, 32])
def test_kept_metadata_is_bounded(metadata_mib: int) -> None:
    header = parse_gguf(bloated_gguf(metadata_mib * 1024 * 1024))
    kept = len(json.dumps(header.metadata))
    assert kept <= KEPT_METADATA_BYTES + 64 * 1024
    assert header.metadata["general.architecture"] == "llama"  # the first entries stay
    assert header.dropped_keys + len(header.metadata) == 1 + metadata_mib * 1024 // 60
    whole_strings = [v for v in header.metadata.values() if isinstance(v, str) and len(v) > 5]
    assert len(whole_strings) <= KEPT_METADATA_BYTES // (60 * 1024)
    assert header.tensor_count == 1


def test_entries_past_the_budget_are_dropped_and_counted() -> None:
    entries = [kv(f"{i:0>200}", _U32, struct.pack("<I", i)) for i in range(20_000)]
    header = parse_gguf(raw_header(kvs=entries))
    assert len(json.dumps(header.metadata)) <= KEPT_METADATA_BYTES + 64 * 1024
    assert header.dropped_keys > 0
    assert len(header.metadata) + header.dropped_keys == 20_000


@pytest.mark.parametrize(
    ("entry", "kept_as"),
    [
        (kv("k" * KEPT_KEY_BYTES, _STRING, gguf_string("v")), "v"),
        (kv("k" * (KEPT_KEY_BYTES + 1), _STRING, gguf_string("v")), None),
        (kv("tokens", _ARRAY, struct.pack("<IQ", _STRING, 3) + gguf_string("a") * 3), ["a"] * 3),
        (
            kv("tokens", _ARRAY, struct.pack("<IQ", _STRING, 1000) + gguf_string("a") * 1000),
            {"array_of": "string", "length": 1000},
        ),
        (kv("big", _STRING, gguf_string("x" * (64 * 1024 + 1))), {"string_bytes": 64 * 1024 + 1}),
    ],
)
def test_what_is_kept_of_an_entry(entry: bytes, kept_as: object) -> None:
    header = parse_gguf(raw_header(kvs=[entry]))
    if kept_as is None:
        assert header.metadata == {}
        assert header.dropped_keys == 1
    else:
        assert list(header.metadata.values()) == [kept_as]
        assert header.dropped_keys == 0
