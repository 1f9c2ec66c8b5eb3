"""Login rate limiting: failed attempts per (username, address) and attempts per address.

Pure and in-process (one API replica per rate-limit domain); the clock is injected so the
rules are table-tested without sleeping.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass
class SlidingWindow:
    """At most `limit` events per `window` seconds for each key; memory bounded by keys."""

    limit: int
    window: float
    max_keys: int = 100_000
    _events: dict[str, deque[float]] = field(default_factory=dict)

    def _prune(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            return deque()
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]
        return events

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until one more event is allowed (0 when allowed now)."""
        events = self._prune(key, now)
        if len(events) < self.limit:
            return 0.0
        return max(0.0, events[0] + self.window - now)

    def record(self, key: str, now: float) -> None:
        events = self._prune(key, now)
        if not events:
            if len(self._events) >= self.max_keys:
                self._evict(now)
            self._events[key] = events
        events.append(now)

    def reset(self, key: str) -> None:
        self._events.pop(key, None)

    def _evict(self, now: float) -> None:
        for key in list(self._events):
            self._prune(key, now)
        while len(self._events) >= self.max_keys:
            del self._events[next(iter(self._events))]


class LoginRateLimiter:
    """Failures per user+address (a success clears them) and all attempts per address."""

    def __init__(
        self,
        max_failures: int,
        max_attempts_per_address: int,
        window_seconds: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self._failures = SlidingWindow(max_failures, window_seconds)
        self._attempts = SlidingWindow(max_attempts_per_address, window_seconds)
        self._clock = clock

    @staticmethod
    def _pair(username: str, address: str) -> str:
        return f"{username.casefold()}\x00{address}"

    def check(self, username: str, address: str) -> int:
        """Whole seconds to wait before trying (0: go ahead). Counts the attempt when allowed."""
        now = self._clock()
        wait = max(
            self._failures.retry_after(self._pair(username, address), now),
            self._attempts.retry_after(address, now),
        )
        if wait > 0:
            return max(1, math.ceil(wait))
        self._attempts.record(address, now)
        return 0

    def failed(self, username: str, address: str) -> None:
        self._failures.record(self._pair(username, address), self._clock())

    def succeeded(self, username: str, address: str) -> None:
        self._failures.reset(self._pair(username, address))
