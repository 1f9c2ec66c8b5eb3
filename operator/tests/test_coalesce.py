"""The coalescer absorbs requests while a job is queued and never loses a later request."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from modelserve_operator.coalesce import Coalescer, Requeuer


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


def test_requeuer_submits_each_key_once_when_due() -> None:
    done = threading.Event()
    seen: list[str] = []

    def submit(key: str) -> None:
        seen.append(key)
        if len(seen) == 2:
            done.set()

    requeuer: Requeuer[str] = Requeuer(submit)
    try:
        requeuer.schedule("late", 0.3)
        requeuer.schedule("late", 5.0)  # a later schedule does not postpone the earlier one
        requeuer.schedule("soon", 0.05)
        requeuer.schedule("soon", 0.0)  # an earlier one supersedes
        assert done.wait(5)
        assert seen == ["soon", "late"]
        assert requeuer.pending() == 0
    finally:
        requeuer.stop()


def test_requeuer_stop_with_pending_keys() -> None:
    seen: list[str] = []
    requeuer: Requeuer[str] = Requeuer(seen.append)
    requeuer.schedule("never", 60)
    requeuer.stop()
    assert seen == []
