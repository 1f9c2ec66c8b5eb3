"""`inference-quant-publish FILE --name NAME`: publishes a local GGUF (one file, or the first
part of a split GGUF, whose siblings are found beside it) to the quantization cluster's
store the way the cluster does: the files under `<uuid>/`, then `manifest.json` with each
file's size and SHA-256, written last so a half-published model has no manifest.

The store comes from the environment as the service reads it (`QUANT_S3_ENDPOINT`,
`QUANT_S3_ACCESS_KEY`, `QUANT_S3_SECRET_KEY`, `QUANT_S3_SECURE`, `QUANT_BUCKET`); `make
quant-publish` sources `.local/env` first.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

from minio import Minio

from inference_common.gguf import GGUFError, GGUFStreamParser
from inference_common.settings import QUANT_BUCKET
from inference_download.manifest import MANIFEST_NAME, Manifest, ManifestFile

_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$")
CHUNK = 1024**2
PART_BYTES = 16 * 1024**2


@dataclass(frozen=True)
class LocalFile:
    path: Path
    size_bytes: int
    sha256: str


def split_parts(first: Path) -> list[Path]:
    """The files of a model: `first` alone, or every `-0000i-of-0000N.gguf` part of the split
    GGUF that `first` belongs to, in order (each must exist)."""
    match = _SPLIT.match(first.name)
    if match is None:
        return [first]
    count = int(match["count"])
    parts = [
        first.with_name(f"{match['stem']}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)
    ]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"split GGUF {first.name}: missing {', '.join(missing)}")
    return parts


def describe(path: Path) -> LocalFile:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return LocalFile(path, path.stat().st_size, digest.hexdigest())


def quantization_of(path: Path) -> str:
    """The GGUF header's file type (Q4_1, Q8_0 …), read from the file's first bytes."""
    parser = GGUFStreamParser()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            parser.feed(chunk)
            if parser.header is not None:
                return str(parser.header.file_type or "unknown")
    raise GGUFError(f"{path}: no GGUF header")


def build_manifest(
    name: str, quantization: str, source_model: str, files: list[LocalFile]
) -> Manifest:
    return Manifest(
        name=name,
        quantization=quantization,
        source_model=source_model,
        files=[
            ManifestFile(key=f.path.name, size_bytes=f.size_bytes, sha256=f.sha256) for f in files
        ],
    )


def publish(
    client: Minio,
    bucket: str,
    model_uuid: UUID,
    files: list[LocalFile],
    manifest: Manifest,
) -> None:
    """Uploads the files, then the manifest (last: a reader never sees a manifest whose
    files are not all there)."""
    for local in files:
        client.fput_object(
            bucket,
            f"{model_uuid}/{local.path.name}",
            str(local.path),
            content_type="application/octet-stream",
            part_size=PART_BYTES,
        )
    write_manifest(client, bucket, model_uuid, manifest)


def write_manifest(client: Minio, bucket: str, model_uuid: UUID, manifest: Manifest) -> None:
    """The manifest of files stored already: it makes the model visible to imports."""
    body = json.dumps(manifest.model_dump(), indent=2).encode()
    client.put_object(
        bucket,
        f"{model_uuid}/{MANIFEST_NAME}",
        io.BytesIO(body),
        len(body),
        content_type="application/json",
    )


def client_from_env(env: dict[str, str]) -> Minio:
    missing = [k for k in ("QUANT_S3_ACCESS_KEY", "QUANT_S3_SECRET_KEY") if not env.get(k)]
    if missing:
        raise SystemExit(f"inference-quant-publish: {', '.join(missing)} not set (. .local/env)")
    return Minio(
        env.get("QUANT_S3_ENDPOINT", "127.0.0.1:9002"),
        access_key=env["QUANT_S3_ACCESS_KEY"],
        secret_key=env["QUANT_S3_SECRET_KEY"],
        secure=env.get("QUANT_S3_SECURE", "false").lower() == "true",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="inference-quant-publish", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("file", type=Path, help="a .gguf, or the first part of a split GGUF")
    parser.add_argument("--name", required=True, help="the registry name the import will get")
    parser.add_argument("--uuid", type=UUID, default=None, help="the model's uuid (new by default)")
    parser.add_argument("--quantization", help="default: the GGUF header's file type")
    parser.add_argument("--source-model", default="unknown", help="what it was quantized from")
    args = parser.parse_args(argv)
    try:
        paths = split_parts(args.file)
        files = [describe(p) for p in paths]
        manifest = build_manifest(
            args.name,
            args.quantization or quantization_of(paths[0]),
            args.source_model,
            files,
        )
    except (OSError, GGUFError, ValueError) as exc:
        print(f"inference-quant-publish: {exc}", file=sys.stderr)
        return 2
    model_uuid = args.uuid or uuid4()
    bucket = os.environ.get("QUANT_BUCKET", QUANT_BUCKET)
    publish(client_from_env(dict(os.environ)), bucket, model_uuid, files, manifest)
    print(json.dumps({"model_uuid": str(model_uuid), "bucket": bucket, **manifest.model_dump()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
