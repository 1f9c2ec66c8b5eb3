"""Bounded waiting on a condition: tests wait for what they need, never a fixed sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):  # noqa: N818 (reads as what happened in a test report)
    pass


def wait_for(
    condition: Callable[[], T | None],
    timeout: float = 60.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Calls `condition` until it returns something truthy (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


async def async_wait_for(
    condition: Callable[[], Awaitable[T | None]],
    timeout: float = 60.0,  # noqa: ASYNC109
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        last = await condition()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
        await asyncio.sleep(interval)
