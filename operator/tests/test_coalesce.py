"""The coalescer absorbs requests while a job is queued and never loses a later request."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from modelserve_operator.coalesce import Coalescer


def test_requests_while_queued_are_absorbed_and_later_ones_run() -> None:
    gate = threading.Event()
    started = threading.Event()
    runs: list[str] = []

    def job(key: str) -> None:
        runs.append(key)
        if len(runs) == 1:
            started.set()
            assert gate.wait(10)

    with ThreadPoolExecutor(max_workers=1) as pool:
        c: Coalescer[str] = Coalescer(pool, job)
        assert c.submit("a")
        assert started.wait(10)  # job 1 for "a" is running (no longer queued)
        assert c.submit("a")  # queued behind it
        assert not c.submit("a")  # absorbed: the queued job will see the newest state
        assert c.submit("b")
        gate.set()
    assert sorted(runs) == ["a", "a", "b"]


def test_a_failing_job_does_not_block_the_key() -> None:
    calls: list[int] = []

    def job(key: int) -> None:
        calls.append(key)
        raise RuntimeError("boom")

    with ThreadPoolExecutor(max_workers=1) as pool:
        c: Coalescer[int] = Coalescer(pool, job)
        c.submit(1)
    with ThreadPoolExecutor(max_workers=1) as pool:
        c._executor = pool
        assert c.submit(1)
    assert calls == [1, 1]
