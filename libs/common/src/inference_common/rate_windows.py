"""Rate limit windows, shared by the gateway (which counts in them) and the contract
service (which reports the current one): fixed windows of `length` seconds since the
epoch, per-minute limits scaled to the window (tests use short windows)."""

from __future__ import annotations

import math

RATE_SUBJECT_USER = "user:"
RATE_SUBJECT_KEY = "key:"


def window_of(now: float, length: float) -> int:
    return int(now // length)


def reset_in(now: float, length: float) -> float:
    """Seconds until the current window ends."""
    return length - (now % length)


def scaled(per_minute: int, length: float) -> int:
    """A per-minute limit over a window of `length` seconds (at least 1)."""
    return max(1, math.floor(per_minute * length / 60.0))
