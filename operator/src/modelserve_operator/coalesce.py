"""Run a job per key at most once per burst of requests: while a job for a key is queued and
not yet started, further requests for that key are absorbed (the queued job will see the
newest state when it runs). A request that arrives after the job started queues a new one,
so no update is lost."""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Executor
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

log = logging.getLogger(__name__)


class Coalescer(Generic[K]):
    def __init__(self, executor: Executor, job: Callable[[K], None]) -> None:
        self._executor = executor
        self._job = job
        self._queued: set[K] = set()
        self._guard = threading.Lock()

    def submit(self, key: K) -> bool:
        """Queues the job for key; False when one is already queued (absorbed)."""
        with self._guard:
            if key in self._queued:
                return False
            self._queued.add(key)
        self._executor.submit(self._run, key)
        return True

    def depth(self) -> int:
        """Jobs queued and not yet started."""
        with self._guard:
            return len(self._queued)

    def _run(self, key: K) -> None:
        with self._guard:
            self._queued.discard(key)
        try:
            self._job(key)
        except Exception:  # a pool thread has no caller to raise to: report and go on
            log.exception("job for %s failed", key)


class Requeuer(Generic[K]):
    """Requeue-after for many keys on one thread: `schedule(key, delay)` submits the key to
    `submit` once its time has come (the earliest schedule per key wins)."""

    def __init__(
        self,
        submit: Callable[[K], object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._submit = submit
        self._clock = clock
        self._due: dict[K, float] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._seq = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="requeue", daemon=True)
        self._thread.start()

    def schedule(self, key: K, delay: float) -> None:
        when = self._clock() + max(0.0, delay)
        with self._cond:
            if key in self._due and self._due[key] <= when:
                return
            self._due[key] = when
            self._seq += 1
            heapq.heappush(self._heap, (when, self._seq, key))
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._due)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _next_ready(self) -> K | None:
        """Pops a key whose time has come, or waits until the earliest is due (or a change)."""
        with self._cond:
            while not self._stopped:
                while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
                    heapq.heappop(self._heap)  # superseded by an earlier schedule
                if self._heap:
                    when, _, key = self._heap[0]
                    wait = when - self._clock()
                    if wait <= 0:
                        heapq.heappop(self._heap)
                        del self._due[key]
                        return key
                    self._cond.wait(timeout=wait)
                else:
                    self._cond.wait()
            return None

    def _loop(self) -> None:
        while (key := self._next_ready()) is not None:
            try:
                self._submit(key)
            except Exception:  # keep the one timer thread alive
                log.exception("requeue of %s failed", key)
