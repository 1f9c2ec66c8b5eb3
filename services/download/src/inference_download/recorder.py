"""Progress rows written at most every so often, off the copy's path.

A copy stores 30-40 parts a second; a database row per part cost about 3 ms of the event
loop's time each (the ORM update and the files' JSON, which grows with every part) and held
the part's upload slot while it ran. The copy now marks its progress and a `ThrottledSave`
writes the latest state: at once for the first mark, then at most every `interval`
seconds, and on `flush()` at once. A crash loses at most the last interval's records; the
resume does not depend on them (it keeps the parts our bucket holds for the upload).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable


class ThrottledSave:
    """Runs `save()` after `mark()`s: one save for all the marks of an interval."""

    def __init__(self, save: Callable[[], Awaitable[None]], interval: float) -> None:
        self._save = save
        self._interval = interval
        self._dirty = False
        self._last = -float("inf")
        self._hurry = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    def mark(self) -> None:
        """Something changed; raises what a previous save raised."""
        if self._error is not None:
            raise self._error
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._dirty:
                delay = self._last + self._interval - time.monotonic()
                if delay > 0 and not self._hurry.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._hurry.wait(), delay)
                self._dirty = False
                self._last = time.monotonic()
                await self._save()
        except Exception as exc:
            self._error = exc

    async def flush(self) -> None:
        """Saves what was marked now (not at the interval's end) and waits for it; raises
        what a save raised."""
        self._hurry.set()
        try:
            while self._task is not None and not self._task.done():
                await asyncio.shield(self._task)
        finally:
            self._hurry.clear()
        if self._error is not None:
            raise self._error

    async def cancel(self) -> None:
        """Drops a save not yet started; one running is stopped."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
