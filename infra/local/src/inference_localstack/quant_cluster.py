"""The quantization cluster's store on this machine (a second MinIO, bucket `llm-models`),
seeded with one model the download service can import.

The seed is the embedded SmolLM2 with its `general.name` rewritten in place: the platform
refuses an import whose bytes equal a registered model (error class `duplicate`: the model
is already here, under the name it was registered with), and the embedded file itself is
registered as `smollm2:135m` by `make up`. The rewrite keeps the string's length, so no
offset of the header or the tensor data moves: the file is the same model, served the same
way, with bytes (and a SHA-256) of its own, as a re-published build of a cluster would be.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path
from uuid import UUID

from minio import Minio
from minio.error import S3Error

from inference_common.s3 import ensure_bucket
from inference_common.settings import QUANT_BUCKET
from inference_download import publish
from inference_download.manifest import MANIFEST_NAME
from inference_localstack import embedded_model
from inference_localstack.config import StackConfig
from inference_localstack.pki import Secrets

SEED_UUID = UUID("5eed0135-9c2a-4f1e-8b7d-3a6c0e1f2d40")
SEED_NAME = "smollm2:135m-quant"
SEED_LABEL = "SmolLM2 135M Instruct (quant)"
SEED_SOURCE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
GGUF_STRING = 8
NAME_KEY = b"general.name"


def endpoint(cfg: StackConfig) -> str:
    return f"127.0.0.1:{cfg.ports.quant_minio}"


def store(cfg: StackConfig, creds: Secrets) -> Minio:
    return Minio(
        endpoint(cfg),
        access_key=creds.quant_minio_user,
        secret_key=creds.quant_minio_password,
        secure=False,
    )


def env_values(cfg: StackConfig, creds: Secrets) -> dict[str, str]:
    """What `.local/env` says about the quantization cluster's store."""
    return {
        "QUANT_S3_ENDPOINT": endpoint(cfg),
        "QUANT_S3_ACCESS_KEY": creds.quant_minio_user,
        "QUANT_S3_SECRET_KEY": creds.quant_minio_password,
        "QUANT_S3_SECURE": "false",
        "QUANT_BUCKET": QUANT_BUCKET,
    }


def relabel(header: bytes, label: str) -> bytes:
    """`header` (the file's first bytes) with the value of `general.name` replaced by `label`,
    padded with spaces (or cut) to the old value's byte length (pure)."""
    marker = struct.pack("<Q", len(NAME_KEY)) + NAME_KEY + struct.pack("<I", GGUF_STRING)
    at = header.find(marker)
    if at < 0:
        raise ValueError("no general.name string in the GGUF header")
    start = at + len(marker)
    (length,) = struct.unpack_from("<Q", header, start)
    value_at = start + 8
    new = label.encode()[:length].ljust(length, b" ")
    return header[:value_at] + new + header[value_at + length :]


def relabelled_copy(source: Path, target: Path, label: str, head_bytes: int = 1024**2) -> None:
    with source.open("rb") as src, target.open("wb") as dst:
        dst.write(relabel(src.read(head_bytes), label))
        shutil.copyfileobj(src, dst, 1024**2)


def seeded(client: Minio) -> bool:
    try:
        client.stat_object(QUANT_BUCKET, f"{SEED_UUID}/{MANIFEST_NAME}")
    except S3Error as exc:
        if exc.code == "NoSuchKey":
            return False
        raise
    return True


def seed(cfg: StackConfig, creds: Secrets) -> bool:
    """Creates the bucket and publishes the seed model unless it is there; True when it
    published."""
    client = store(cfg, creds)
    ensure_bucket(client, QUANT_BUCKET)
    if seeded(client):
        return False
    work = cfg.data_dir("quant-seed")
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "smollm2-135m-instruct-q4_1.gguf"
    try:
        relabelled_copy(embedded_model.embedded_model_path(), copy, SEED_LABEL)
        files = [publish.describe(copy)]
        manifest = publish.build_manifest(
            SEED_NAME, publish.quantization_of(copy), SEED_SOURCE_MODEL, files
        )
        publish.publish(client, QUANT_BUCKET, SEED_UUID, files, manifest)
    finally:
        copy.unlink(missing_ok=True)
    return True
