"""Builds small GGUF files for tests with the `gguf` package's own writer (an independent
implementation of the format), plus hand-made malformed headers."""

from __future__ import annotations

import struct
from pathlib import Path

import gguf
import numpy as np


def write_gguf(path: Path, *, tokens: int = 100, context_length: int = 4096) -> Path:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(context_length)
    writer.add_file_type(1)
    writer.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"tok{i}" for i in range(tokens)])
    writer.add_array("test.small_ints", [1, 2, 3])
    writer.add_float32("test.float", 1.5)
    writer.add_bool("test.flag", True)
    writer.add_tensor("a", np.ones((4, 8), dtype=np.float32))
    writer.add_tensor("b", np.ones((64,), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def gguf_bytes(tmp_path: Path, **kwargs: int) -> bytes:
    return write_gguf(tmp_path / "t.gguf", **kwargs).read_bytes()


def raw_header(
    *,
    magic: bytes = b"GGUF",
    version: int = 3,
    tensors: int = 0,
    kvs: list[bytes] | None = None,
    tensor_infos: list[bytes] | None = None,
) -> bytes:
    kv_list = kvs or []
    return (
        magic
        + struct.pack("<IQQ", version, tensors, len(kv_list))
        + b"".join(kv_list)
        + b"".join(tensor_infos or [])
    )


def gguf_string(text: str | bytes, declared: int | None = None) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw) if declared is None else declared) + raw


def kv(key: str, value_type: int, payload: bytes) -> bytes:
    return gguf_string(key) + struct.pack("<I", value_type) + payload


def tensor_info(name: str, dims: list[int], ggml_type: int, offset: int) -> bytes:
    return (
        gguf_string(name)
        + struct.pack("<I", len(dims))
        + b"".join(struct.pack("<Q", d) for d in dims)
        + struct.pack("<IQ", ggml_type, offset)
    )


def bloated_gguf(metadata_bytes: int, *, with_tensor: bool = True) -> bytes:
    """A GGUF with `metadata_bytes` of metadata in 60 KiB strings (each under the parser's
    string limit) and one small F32 tensor, or none."""
    piece = 60 * 1024
    kvs = [kv("general.architecture", 8, gguf_string("llama"))]
    kvs += [kv(f"bloat.{i}", 8, gguf_string("x" * piece)) for i in range(metadata_bytes // piece)]
    tensors = [tensor_info("t", [8], 0, 0)] if with_tensor else []
    header = raw_header(tensors=len(tensors), kvs=kvs, tensor_infos=tensors)
    if not with_tensor:
        return header
    return header + b"\0" * (-len(header) % 32) + struct.pack("<8f", *range(8))
