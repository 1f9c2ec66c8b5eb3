"""Builds GGUF files and publishes them into a source bucket with a correct manifest."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
from pathlib import Path
from uuid import UUID, uuid4

import gguf
import numpy as np
from minio import Minio

MIB = 1024**2


def write_gguf(path: Path, *, padding_bytes: int = 0) -> Path:
    """A small valid GGUF (unique: a random metadata value), then `padding_bytes` random
    bytes after the tensor data (a big file with a real header)."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(2048)
    writer.add_file_type(1)
    writer.add_string("test.nonce", secrets.token_hex(8))
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"tok{i}" for i in range(32)])
    writer.add_tensor("a", np.ones((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with path.open("ab") as out:
        left = padding_bytes
        while left:
            step = min(left, 8 * MIB)
            out.write(os.urandom(step))
            left -= step
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(8 * MIB):
            digest.update(block)
    return digest.hexdigest()


def publish(
    s3: Minio,
    bucket: str,
    files: list[Path],
    *,
    name: str | None = None,
    sha_override: str | None = None,
    model_uuid: UUID | None = None,
) -> UUID:
    """Uploads the files under `<uuid>/` and writes `<uuid>/manifest.json`."""
    model_uuid = model_uuid or uuid4()
    entries = []
    for path in files:
        s3.fput_object(bucket, f"{model_uuid}/{path.name}", str(path), part_size=64 * MIB)
        entries.append(
            {
                "key": path.name,
                "size_bytes": path.stat().st_size,
                "sha256": sha_override or sha256_of(path),
            }
        )
    write_manifest(
        s3,
        bucket,
        model_uuid,
        {
            "name": name or f"test-{model_uuid.hex[:8]}",
            "quantization": "F32",
            "source_model": "tests/tiny",
            "files": entries,
        },
    )
    return model_uuid


def write_manifest(s3: Minio, bucket: str, model_uuid: UUID, manifest: dict[str, object]) -> None:
    raw = json.dumps(manifest).encode()
    s3.put_object(bucket, f"{model_uuid}/manifest.json", io.BytesIO(raw), len(raw))
