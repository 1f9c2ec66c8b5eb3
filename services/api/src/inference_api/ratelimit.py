"""Login throttling: exponential back-off per account that cannot lock its owner out, and
attempts per address.

The rule (services/api/README.md): each account counts its failed logins; from
`free_failures` on, a source (an address) that has itself failed for that account must wait
2, 4, 8 … seconds (up to `max_delay`) after the account's latest failure. A source with no
recent failure for the account is never delayed by it, so an attacker guessing from
elsewhere cannot keep the owner out with the right password. Every source also has at most
`max_attempts_per_address` attempts per window (password spraying across accounts).

Pure and in-process (one API replica per rate-limit domain); the clock is injected so the
rules are table-tested without sleeping.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

Clock = Callable[[], float]
V = TypeVar("V")


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


@dataclass(frozen=True)
class Backoff:
    """How long an account's failures make a failing source wait."""

    free_failures: int
    max_delay: float
    forget_after: float  # failures older than this (since the latest) no longer count

    def delay(self, failures: int) -> float:
        """Seconds after the latest failure before the next attempt: 0 below
        `free_failures`, then 2, 4, 8 … up to `max_delay`."""
        if failures < self.free_failures:
            return 0.0
        return min(self.max_delay, 2.0 ** min(failures - self.free_failures + 1, 62))


@dataclass
class _Failures:
    count: int
    latest: float


class LoginRateLimiter:
    """Per-account back-off applied to the sources that failed, and attempts per address."""

    def __init__(
        self,
        backoff: Backoff,
        max_attempts_per_address: int,
        window_seconds: float,
        clock: Clock = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self._backoff = backoff
        self._accounts: dict[str, _Failures] = {}
        self._sources: dict[str, float] = {}  # user+address → its latest failure
        self._attempts = SlidingWindow(max_attempts_per_address, window_seconds, max_keys)
        self._clock = clock
        self._max_keys = max_keys

    @staticmethod
    def _pair(username: str, address: str) -> str:
        return f"{username.casefold()}\x00{address}"

    def _fresh(self, latest: float, now: float) -> bool:
        return now - latest < self._backoff.forget_after

    def _account(self, username: str, now: float) -> _Failures | None:
        failures = self._accounts.get(username.casefold())
        if failures is not None and not self._fresh(failures.latest, now):
            del self._accounts[username.casefold()]
            return None
        return failures

    def _source_failed(self, username: str, address: str, now: float) -> bool:
        latest = self._sources.get(self._pair(username, address))
        return latest is not None and self._fresh(latest, now)

    def account_wait(self, username: str, address: str) -> float:
        """Seconds this source must wait for this account (0: no back-off applies)."""
        now = self._clock()
        if not self._source_failed(username, address, now):
            return 0.0
        failures = self._account(username, now)
        if failures is None:
            return 0.0
        return max(0.0, failures.latest + self._backoff.delay(failures.count) - now)

    def check(self, username: str, address: str) -> int:
        """Whole seconds to wait before trying (0: go ahead). Counts the attempt when allowed."""
        now = self._clock()
        wait = max(self.account_wait(username, address), self._attempts.retry_after(address, now))
        if wait > 0:
            return max(1, math.ceil(wait))
        self._attempts.record(address, now)
        return 0

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        failures = self._account(username, now)
        if failures is None:
            self._bound(self._accounts, now, lambda f: f.latest)
            self._accounts[username.casefold()] = _Failures(1, now)
        else:
            failures.count += 1
            failures.latest = now
        pair = self._pair(username, address)
        self._sources.pop(pair, None)
        self._bound(self._sources, now, lambda latest: latest)
        self._sources[pair] = now

    def succeeded(self, username: str, address: str) -> None:
        """The source proved it knows the password; the account's count stays, so a
        success elsewhere does not hand an attacker fresh free attempts."""
        self._sources.pop(self._pair(username, address), None)

    def _bound(self, entries: dict[str, V], now: float, latest: Callable[[V], float]) -> None:
        """Room for one more key: forgotten entries go first, then the oldest inserted."""
        if len(entries) < self._max_keys:
            return
        for key in [k for k, v in entries.items() if not self._fresh(latest(v), now)]:
            del entries[key]
        while len(entries) >= self._max_keys:
            del entries[next(iter(entries))]
