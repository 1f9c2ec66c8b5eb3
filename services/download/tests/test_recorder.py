"""`ThrottledSave`: progress rows at most once per interval, at once on flush."""

from __future__ import annotations

import asyncio
import time

import pytest

from inference_download.recorder import ThrottledSave


class Saves:
    """Counts saves and records when each began; `next()` waits for the next one."""

    def __init__(self, fail_on: int = 0) -> None:
        self.times: list[float] = []
        self.fail_on = fail_on
        self._event = asyncio.Event()

    async def __call__(self) -> None:
        self.times.append(time.monotonic())
        self._event.set()
        if len(self.times) == self.fail_on:
            raise ConnectionError("database went away")

    async def next(self, within: float = 5) -> None:
        self._event.clear()
        await asyncio.wait_for(self._event.wait(), within)


async def test_the_first_mark_saves_at_once_and_a_burst_after_it_once_an_interval_later() -> None:
    saves = Saves()
    recorder = ThrottledSave(saves, interval=0.3)
    started = time.monotonic()
    recorder.mark()
    await saves.next()
    assert saves.times[0] - started < 0.1
    for _ in range(40):
        recorder.mark()
    await saves.next()
    assert len(saves.times) == 2  # forty marks, one save
    assert saves.times[1] - saves.times[0] >= 0.29
    await recorder.flush()
    assert len(saves.times) == 2  # nothing marked since


async def test_flush_saves_what_is_marked_without_waiting_for_the_interval() -> None:
    saves = Saves()
    recorder = ThrottledSave(saves, interval=30)
    recorder.mark()
    await saves.next()
    recorder.mark()
    started = time.monotonic()
    await recorder.flush()
    assert len(saves.times) == 2
    assert time.monotonic() - started < 1


async def test_a_failed_save_is_raised_by_the_next_mark_and_by_flush() -> None:
    saves = Saves(fail_on=1)
    recorder = ThrottledSave(saves, interval=0.05)
    recorder.mark()
    with pytest.raises(ConnectionError, match="went away"):
        await recorder.flush()
    with pytest.raises(ConnectionError):
        recorder.mark()
    assert len(saves.times) == 1


async def test_cancel_drops_a_pending_save() -> None:
    saves = Saves()
    recorder = ThrottledSave(saves, interval=30)
    recorder.mark()
    await saves.next()
    recorder.mark()  # due in 30 s
    await recorder.cancel()
    await recorder.flush()  # nothing left to save
    assert len(saves.times) == 1
