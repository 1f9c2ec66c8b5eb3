"""Pure functions of the download service and the shared multipart path."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from urllib3.exceptions import ProtocolError

from inference_common.s3_multipart import MAX_PARTS, MIN_PART_BYTES, part_size_for
from inference_download.failures import JobError, backoff_seconds, classify
from inference_download.manifest import ManifestError, parse_manifest, source_key, target_keys
from inference_download.progress import ChangeBoard, rate_and_eta

MIB = 1024**2
TIB = 1024**4
SHA = "a" * 64
MODEL = UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize(
    ("size", "minimum", "expected"),
    [
        (1, MIN_PART_BYTES, MIN_PART_BYTES),
        (100 * MIB, 8 * MIB, 8 * MIB),
        (TIB, 8 * MIB, 105 * MIB),
        (TIB, 200 * MIB, 200 * MIB),
        (80 * 1024**3, 8 * MIB, 9 * MIB),
    ],
)
def test_part_size_fits_the_part_limit(size: int, minimum: int, expected: int) -> None:
    chosen = part_size_for(size, minimum)
    assert chosen == expected
    assert -(-size // chosen) <= MAX_PARTS


def test_part_size_refuses_what_cannot_fit() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        part_size_for(5 * 1024**3 * MAX_PARTS + 1)


def _manifest(keys: list[str], **extra: object) -> bytes:
    files = [{"key": k, "size_bytes": 10, "sha256": SHA} for k in keys]
    body = {"name": "m", "quantization": "Q4_K_M", "source_model": "org/m", "files": files}
    return json.dumps({**body, **extra}).encode()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"not json", "invalid manifest.json"),
        (_manifest(["m.bin"]), "is not a .gguf"),
        (_manifest(["m-00002-of-00002.gguf", "m-00001-of-00002.gguf"]), "in order"),
        (_manifest(["m-00001-of-00003.gguf", "m-00002-of-00003.gguf"]), "in order"),
        (_manifest(["m.gguf"], name=""), "name"),
        (_manifest([]), "files"),
        (
            json.dumps(
                {
                    "name": "m",
                    "quantization": "q",
                    "source_model": "s",
                    "files": [{"key": "m.gguf", "size_bytes": 1, "sha256": "xyz"}],
                }
            ).encode(),
            "64 hex digits",
        ),
    ],
)
def test_bad_manifests_say_why(raw: bytes, problem: str) -> None:
    with pytest.raises(ManifestError, match=problem):
        parse_manifest(raw)


@pytest.mark.parametrize(
    ("keys", "targets"),
    [
        (["m.gguf"], [f"models/{MODEL}.gguf"]),
        (
            ["m-00001-of-00002.gguf", "sub/m-00002-of-00002.gguf"],
            [f"models/{MODEL}/m-00001-of-00002.gguf", f"models/{MODEL}/m-00002-of-00002.gguf"],
        ),
    ],
)
def test_target_keys(keys: list[str], targets: list[str]) -> None:
    assert target_keys(MODEL, parse_manifest(_manifest(keys))) == targets


@pytest.mark.parametrize(
    ("key", "expected"),
    [("m.gguf", f"{MODEL}/m.gguf"), (f"{MODEL}/m.gguf", f"{MODEL}/m.gguf")],
)
def test_source_key(key: str, expected: str) -> None:
    assert source_key(MODEL, key) == expected


START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("done", "total", "started", "last", "rate", "eta"),
    [
        (0, 100, START, START + timedelta(seconds=1), None, None),
        (50, 100, None, START, None, None),
        (50, 100, START, START, None, None),
        (50, 150, START, START + timedelta(seconds=10), 5.0, 20.0),
        (150, 150, START, START + timedelta(seconds=10), 15.0, 0.0),
    ],
)
def test_rate_and_eta(
    done: int,
    total: int,
    started: datetime | None,
    last: datetime | None,
    rate: float | None,
    eta: float | None,
) -> None:
    assert rate_and_eta(done, total, started, last) == (rate, eta)


@pytest.mark.parametrize(
    ("attempt", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (50, 30.0)]
)
def test_backoff_is_bounded(attempt: int, expected: float) -> None:
    assert backoff_seconds(attempt, 1.0, 30.0) == expected


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetObject")


@pytest.mark.parametrize(
    ("exc", "error_class", "permanent"),
    [
        (_client_error("NoSuchKey"), "not_found", True),
        (_client_error("404"), "not_found", True),
        (_client_error("SlowDown"), "unavailable", False),
        (_client_error("InternalError"), "unavailable", False),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "unavailable", False),
        (ConnectionResetError(), "unavailable", False),
        (TimeoutError(), "unavailable", False),
        (ProtocolError("Connection broken"), "unavailable", False),  # urllib3's, unwrapped
        (JobError("checksum_mismatch", "x"), "checksum_mismatch", True),
        (RuntimeError("bug"), "internal", True),
    ],
)
def test_classify(exc: BaseException, error_class: str, permanent: bool) -> None:
    error = classify(exc, "what")
    assert (error.error_class, error.permanent) == (error_class, permanent)


async def _woken(board: ChangeBoard, model_uuid: UUID, action: Callable[[], object]) -> float:
    """Seconds from `action` (a call on the board) until a waiting stream wakes."""
    waiting = asyncio.create_task(board.wait(model_uuid, board.version(model_uuid), within=5))
    await asyncio.sleep(0)  # one loop turn: the task runs up to its wait on the event
    started = time.monotonic()
    action()
    await waiting
    return time.monotonic() - started


async def test_progress_wakes_streams_at_most_once_per_interval() -> None:
    board = ChangeBoard(progress_interval=0.2)
    job = UUID(int=1)
    assert await _woken(board, job, lambda: board.progressed(job)) < 0.1  # first: at once

    def burst() -> None:
        for _ in range(50):
            board.progressed(job)

    assert 0.1 < await _woken(board, job, burst) < 1.0  # the rest: one wake, deferred


async def test_a_phase_change_wakes_streams_at_once_and_takes_pending_progress_along() -> None:
    board = ChangeBoard(progress_interval=10)
    job = UUID(int=2)
    await _woken(board, job, lambda: board.progressed(job))

    def progress_then_phase() -> None:
        board.progressed(job)  # deferred by the interval
        board.changed(job)

    assert await _woken(board, job, progress_then_phase) < 0.1


async def test_a_change_between_a_streams_read_and_its_wait_is_not_missed() -> None:
    board = ChangeBoard()
    job = UUID(int=3)
    seen = board.version(job)  # the stream reads the job at this version ...
    board.changed(job)  # ... the job changes before the stream waits ...
    started = time.monotonic()
    await board.wait(job, seen, within=5)  # ... and the wait returns at once
    assert time.monotonic() - started < 0.1
