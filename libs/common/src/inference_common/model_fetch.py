"""Fetch a GGUF file from MinIO into a model directory and verify its SHA-256.

The init container of every llama.cpp pod runs this (and the local kubelet can run the very
same command):

    python -m inference_common.model_fetch s3 --bucket B --key K --sha256 H --dest /models/H.gguf
    python -m inference_common.model_fetch verify --path /models/x.gguf --sha256 H

S3 settings come from the environment (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_SECURE).

A verified file is cached: next to `dest` a marker `dest.verified` records the checksum, size
and mtime the file had when it was last verified; when they still match, nothing is read or
copied. Otherwise the object is streamed to `dest.partial` while hashing, checked against the
expected checksum (and size), fsynced and renamed into place, so `dest` is either absent or
complete and verified. Exit codes: 0 ok, 2 checksum or size mismatch, 3 object not found,
4 other storage error, 64 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 1 << 20

EXIT_OK = 0
EXIT_MISMATCH = 2
EXIT_NOT_FOUND = 3
EXIT_STORAGE = 4
EXIT_USAGE = 64


class FetchError(Exception):
    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class Marker:
    sha256: str
    size: int
    mtime_ns: int

    @staticmethod
    def of(path: Path, sha256: str) -> Marker:
        stat = path.stat()
        return Marker(sha256=sha256, size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def marker_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".verified")


def read_marker(dest: Path) -> Marker | None:
    try:
        data = json.loads(marker_path(dest).read_text())
        return Marker(
            sha256=str(data["sha256"]), size=int(data["size"]), mtime_ns=int(data["mtime_ns"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_marker(dest: Path, marker: Marker) -> None:
    tmp = marker_path(dest).with_suffix(".tmp")
    tmp.write_text(json.dumps(marker.__dict__))
    tmp.replace(marker_path(dest))


def cached(dest: Path, sha256: str) -> bool:
    """True when `dest` is the file last verified to have `sha256` (unchanged since)."""
    marker = read_marker(dest)
    if marker is None or marker.sha256 != sha256:
        return False
    try:
        return Marker.of(dest, sha256) == marker
    except OSError:
        return False


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_verified(chunks: Iterable[bytes], dest: Path, sha256: str, size: int | None) -> int:
    """Streams chunks to dest (atomically), hashing on the way; returns the size written."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    digest = hashlib.sha256()
    written = 0
    try:
        with partial.open("wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                digest.update(chunk)
                written += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        actual = digest.hexdigest()
        if actual != sha256:
            raise FetchError(EXIT_MISMATCH, f"sha256 mismatch: expected {sha256}, got {actual}")
        if size is not None and written != size:
            raise FetchError(EXIT_MISMATCH, f"size mismatch: expected {size}, got {written}")
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
    write_marker(dest, Marker.of(dest, sha256))
    return written


def verify_local(path: Path, sha256: str) -> str:
    """Verifies a file in place (e.g. on a PVC); returns 'cached' or 'verified'."""
    if cached(path, sha256):
        return "cached"
    if not path.is_file():
        raise FetchError(EXIT_NOT_FOUND, f"{path} does not exist")
    actual = sha256_file(path)
    if actual != sha256:
        raise FetchError(EXIT_MISMATCH, f"sha256 mismatch: expected {sha256}, got {actual}")
    with contextlib.suppress(OSError):  # a read-only volume: verified, just not cached
        write_marker(path, Marker.of(path, sha256))
    return "verified"


class ObjectReader(Protocol):
    def __call__(self, bucket: str, key: str) -> Iterable[bytes]: ...


def fetch(
    read_object: ObjectReader,
    bucket: str,
    key: str,
    sha256: str,
    dest: Path,
    size: int | None = None,
) -> str:
    """Ensures dest holds the verified object; returns 'cached', 'verified' or 'fetched'."""
    if cached(dest, sha256):
        return "cached"
    if dest.is_file() and sha256_file(dest) == sha256:
        write_marker(dest, Marker.of(dest, sha256))
        return "verified"
    write_verified(read_object(bucket, key), dest, sha256, size)
    return "fetched"


def minio_reader() -> ObjectReader:
    """Reads objects from the MinIO named by the S3_* environment variables."""
    from minio import Minio
    from minio.error import S3Error

    endpoint = os.environ.get("S3_ENDPOINT", "")
    if not endpoint:
        raise FetchError(EXIT_USAGE, "S3_ENDPOINT is not set")
    client = Minio(
        endpoint,
        access_key=os.environ.get("S3_ACCESS_KEY", ""),
        secret_key=os.environ.get("S3_SECRET_KEY", ""),
        secure=os.environ.get("S3_SECURE", "false").lower() in {"1", "true", "yes"},
    )

    def read(bucket: str, key: str) -> Iterable[bytes]:
        try:
            response = client.get_object(bucket, key)
        except S3Error as exc:
            code = EXIT_NOT_FOUND if exc.code in {"NoSuchKey", "NoSuchBucket"} else EXIT_STORAGE
            raise FetchError(code, f"s3://{bucket}/{key}: {exc.code}: {exc.message}") from None
        try:
            yield from response.stream(CHUNK)
        finally:
            response.close()
            response.release_conn()

    return read


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference_common.model_fetch")
    sub = parser.add_subparsers(dest="command", required=True)
    s3 = sub.add_parser("s3", help="fetch an object from MinIO and verify it")
    s3.add_argument("--bucket", required=True)
    s3.add_argument("--key", required=True)
    s3.add_argument("--sha256", required=True)
    s3.add_argument("--size", type=int, default=None)
    s3.add_argument("--dest", required=True, type=Path)
    verify = sub.add_parser("verify", help="verify a file already in place")
    verify.add_argument("--path", required=True, type=Path)
    verify.add_argument("--sha256", required=True)
    return parser


def _log(level: str, msg: str, **fields: object) -> None:
    sys.stderr.write(json.dumps({"level": level, "msg": msg, **fields}) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "s3":
            result = fetch(
                minio_reader(), args.bucket, args.key, args.sha256.lower(), args.dest, args.size
            )
            _log("info", f"model {result}", bucket=args.bucket, key=args.key, dest=str(args.dest))
        else:
            result = verify_local(args.path, args.sha256.lower())
            _log("info", f"model {result}", path=str(args.path))
    except FetchError as exc:
        _log("error", str(exc))
        return exc.code
    except OSError as exc:
        _log("error", f"storage error: {exc}")
        return EXIT_STORAGE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
