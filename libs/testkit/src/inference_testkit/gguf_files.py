"""Small valid GGUF files for tests, written with the `gguf` package's own writer (an
implementation of the format independent of the platform's parser)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import gguf
import numpy as np

PADDING_STEP_BYTES = 8 * 1024**2


def write_gguf(
    path: Path, *, padding_bytes: int = 0, context_length: int = 2048, tokens: int = 32
) -> Path:
    """A GGUF unique per call (a random metadata value, so a registry never holds it yet),
    then `padding_bytes` random bytes after the tensor data (a big file with a real header)."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(context_length)
    writer.add_file_type(1)
    writer.add_string("test.nonce", secrets.token_hex(8))
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"tok{i}" for i in range(tokens)])
    writer.add_tensor("a", np.ones((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with path.open("ab") as out:
        left = padding_bytes
        while left:
            step = min(left, PADDING_STEP_BYTES)
            out.write(os.urandom(step))
            left -= step
    return path
