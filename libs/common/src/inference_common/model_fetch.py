"""Fetch a GGUF file from MinIO into a model directory and verify its SHA-256.

The init container of every llama.cpp pod runs this (and the local kubelet can run the very
same command):

    python -m inference_common.model_fetch url --sha256 H --dest /models/H.gguf
    python -m inference_common.model_fetch url --env-prefix SLOT0_ --env-prefix SLOT1_ …
    python -m inference_common.model_fetch verify --path /models/x.gguf --sha256 H

`url` downloads from a presigned GET URL: a capability for that one object, valid for a
limited time, so the init container never holds an object-store key. It comes from the
environment (the pod's fetch Secrets): `<prefix>MODEL_URL`, valid until
`<prefix>MODEL_URL_EXPIRES`, for each `--env-prefix` (default: none); the one valid longest is
used. The URL is a credential too: it is never logged (only its scheme, host and path) and
never passed on the command line.

A verified file is cached: next to `dest` a marker `dest.verified` records the checksum, size
and mtime the file had when it was last verified; when they still match, nothing is read or
copied ("model cached"). Otherwise the object is streamed to a temporary `dest.partial-*` of
its own while hashing, checked against the expected checksum (and size), fsynced and renamed
into place, so `dest` is either absent or complete and verified.

The model directory may be shared (a node's hostPath or a ReadWriteMany claim: `dest` is named
by the model's sha256, so pods of any server reuse it): pods fetching the same file take an
exclusive lock on `dest.lock` (flock; removed by its holder when done) first, so one downloads
and the others wait, then find it cached. Were locks not honoured (some network file systems),
each writer still has its own temporary file and the renames of identical verified content
replace one another harmlessly.
Partial files a killed pod left behind are removed by the next fetch of that file once they are
`STALE_PARTIAL_SECONDS` old. Exit codes: 0 ok, 2 checksum or size mismatch, 3 object not found,
4 other storage error, 64 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from inference_common.logging import configure_logging

logger = logging.getLogger("model-fetch")

CHUNK = 1 << 20
STALE_PARTIAL_SECONDS = 600.0
"""A partial file untouched this long belongs to a fetch that died (writers touch theirs with
every chunk)."""
LOCK_ATTEMPTS = 100

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
    tmp = marker_path(dest).with_name(f"{marker_path(dest).name}.tmp-{secrets.token_hex(4)}")
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
    partial = dest.with_name(f"{dest.name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
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


MODEL_URL_ENV = "MODEL_URL"
EXPIRES_SUFFIX = "_EXPIRES"
READ_TIMEOUT_SECONDS = 60.0


def redacted(url: str) -> str:
    """The URL without its query (a presigned URL's signature is a credential)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def http_chunks(url: str, timeout: float = READ_TIMEOUT_SECONDS) -> Iterator[bytes]:
    """Streams the body of a GET of `url` (a presigned object URL)."""
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        raise FetchError(EXIT_USAGE, f"{MODEL_URL_ENV} is not an http(s) URL")
    try:
        response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - scheme checked
    except urllib.error.HTTPError as exc:
        code = EXIT_NOT_FOUND if exc.code == 404 else EXIT_STORAGE
        reason = "the URL has expired or is not valid" if exc.code == 403 else exc.reason
        raise FetchError(code, f"{redacted(url)}: HTTP {exc.code}: {reason}") from None
    except urllib.error.URLError as exc:
        raise FetchError(EXIT_STORAGE, f"{redacted(url)}: {exc.reason}") from None
    except TimeoutError:
        raise FetchError(EXIT_STORAGE, f"{redacted(url)}: timed out") from None
    with response:
        while chunk := response.read(CHUNK):
            yield chunk


def fetch(
    chunks: Iterable[bytes],
    sha256: str,
    dest: Path,
    size: int | None = None,
    on_wait: Callable[[], None] = lambda: None,
) -> str:
    """Ensures dest holds the verified object; returns 'cached', 'verified' or 'fetched'.
    `chunks` is consumed only when the object has to be downloaded, by one fetch of `dest` at
    a time (`on_wait` is called when another one holds the lock)."""
    if cached(dest, sha256):
        return "cached"
    with fetch_lock(dest, on_wait):
        if cached(dest, sha256):  # fetched by the pod we waited for
            return "cached"
        if dest.is_file() and sha256_file(dest) == sha256:
            write_marker(dest, Marker.of(dest, sha256))
            return "verified"
        remove_stale_partials(dest)
        write_verified(chunks, dest, sha256, size)
        return "fetched"


@contextlib.contextmanager
def fetch_lock(dest: Path, on_wait: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Holds an exclusive flock on `dest.lock` (released by the kernel if the holder dies).
    The holder removes the file as it lets go, so a waiter that then holds the lock of a file
    no longer at that path takes the new one."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    path = dest.with_name(dest.name + ".lock")
    waited = False
    for _ in range(LOCK_ATTEMPTS):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not waited:
                on_wait()
                waited = True
            fcntl.flock(fd, fcntl.LOCK_EX)
        if _same_file(fd, path):
            break
        os.close(fd)
    else:
        raise FetchError(EXIT_STORAGE, f"{path}: could not be locked")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        held, named = os.fstat(fd), path.stat()
    except FileNotFoundError:
        return False
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


def remove_stale_partials(dest: Path, now: float | None = None) -> list[Path]:
    """Removes the partial files of `dest` older than STALE_PARTIAL_SECONDS; returns them."""
    cutoff = (time.time() if now is None else now) - STALE_PARTIAL_SECONDS
    removed = []
    for partial in dest.parent.glob(f"{dest.name}.partial*"):
        with contextlib.suppress(FileNotFoundError):
            if partial.stat().st_mtime < cutoff:
                partial.unlink()
                removed.append(partial)
    return removed


def _expiry(value: str | None) -> datetime:
    try:
        return datetime.fromisoformat(value or "").astimezone(UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def model_url(env: Mapping[str, str], prefixes: Sequence[str]) -> str:
    """The URL among `<prefix>MODEL_URL` that stays valid longest (per its _EXPIRES; one
    without a readable expiry counts as the oldest)."""
    found = [
        (_expiry(env.get(p + MODEL_URL_ENV + EXPIRES_SUFFIX)), env[p + MODEL_URL_ENV])
        for p in prefixes
        if env.get(p + MODEL_URL_ENV)
    ]
    if not found:
        names = ", ".join(p + MODEL_URL_ENV for p in prefixes)
        raise FetchError(EXIT_USAGE, f"no model URL in the environment ({names})")
    return max(found, key=lambda item: item[0])[1]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference_common.model_fetch")
    sub = parser.add_subparsers(dest="command", required=True)
    url = sub.add_parser("url", help="fetch the object at a presigned URL and verify it")
    url.add_argument(
        "--env-prefix",
        action="append",
        dest="env_prefixes",
        help=f"read <prefix>{MODEL_URL_ENV} (repeatable; default: {MODEL_URL_ENV})",
    )
    url.add_argument("--sha256", required=True)
    url.add_argument("--size", type=int, default=None)
    url.add_argument("--dest", required=True, type=Path)
    verify = sub.add_parser("verify", help="verify a file already in place")
    verify.add_argument("--path", required=True, type=Path)
    verify.add_argument("--sha256", required=True)
    return parser


OUTCOMES = {
    "cached": "the verified file is reused, nothing downloaded",
    "verified": "the file in place has the right checksum, nothing downloaded",
    "fetched": "downloaded and verified",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging()
    try:
        if args.command == "url":
            url = model_url(os.environ, args.env_prefixes or [""])
            waiting = functools.partial(
                logger.info,
                "waiting for another fetch of this model",
                extra={"dest": str(args.dest)},
            )
            result = fetch(http_chunks(url), args.sha256.lower(), args.dest, args.size, waiting)
            logger.info(
                "model %s: %s",
                result,
                OUTCOMES[result],
                extra={"source": redacted(url), "dest": str(args.dest)},
            )
        else:
            result = verify_local(args.path, args.sha256.lower())
            logger.info("model %s", result, extra={"path": str(args.path)})
    except FetchError as exc:
        logger.error("%s", exc)
        return exc.code
    except OSError as exc:
        logger.error("storage error: %s", exc)
        return EXIT_STORAGE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
