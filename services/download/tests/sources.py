"""Builds GGUF files and publishes them into a source bucket with a correct manifest."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from uuid import UUID, uuid4

from minio import Minio

from inference_testkit.gguf_files import write_gguf as write_gguf

MIB = 1024**2


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
