"""Why a job failed: an error class users can act on, and whether retrying can help."""

from __future__ import annotations

import asyncio

from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import HTTPError as TransportError

from inference_common.s3_multipart import s3_error_code

PERMANENT_S3_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "AccessDenied", "403"})


class JobError(Exception):
    """A failure of a job. Classes: not_found, bad_manifest, size_mismatch,
    checksum_mismatch, not_gguf, conflict, duplicate, stalled, unavailable."""

    def __init__(self, error_class: str, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.permanent = permanent


def classify(exc: BaseException, what: str) -> JobError:
    """Maps an object store or transport error to a JobError (pure)."""
    if isinstance(exc, JobError):
        return exc
    if isinstance(exc, ClientError):
        code = s3_error_code(exc)
        if code in PERMANENT_S3_CODES:
            return JobError("not_found", f"{what}: {code}")
        return JobError("unavailable", f"{what}: {code or 'S3 error'}", permanent=False)
    if isinstance(exc, BotoCoreError | TransportError | asyncio.TimeoutError | OSError):
        return JobError("unavailable", f"{what}: {type(exc).__name__}", permanent=False)
    return JobError("internal", f"{what}: {type(exc).__name__}: {exc}", permanent=True)


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Exponential, bounded: base, 2·base, 4·base … ≤ cap (attempt counts from 1)."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))
