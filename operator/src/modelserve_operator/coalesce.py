"""Run a job per key at most once per burst of requests: while a job for a key is queued and
not yet started, further requests for that key are absorbed (the queued job will see the
newest state when it runs). A request that arrives after the job started queues a new one,
so no update is lost."""

from __future__ import annotations

import logging
import threading
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

    def _run(self, key: K) -> None:
        with self._guard:
            self._queued.discard(key)
        try:
            self._job(key)
        except Exception:  # a pool thread has no caller to raise to: report and go on
            log.exception("job for %s failed", key)
