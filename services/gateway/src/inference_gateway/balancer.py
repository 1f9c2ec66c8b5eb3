"""Least-outstanding-requests balancing over replicas, with replicas taken out after a
failure until they are ready again. Pure state; the caller owns the clock and probes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Balancer:
    outstanding: dict[str, int] = field(default_factory=dict)
    ejected: set[str] = field(default_factory=set)
    _turn: int = 0

    def pick(self, candidates: Iterable[str], exclude: Iterable[str] = ()) -> str | None:
        """The candidate with the fewest requests in flight; ties rotate."""
        skip = set(exclude) | self.ejected
        usable = sorted(c for c in candidates if c not in skip)
        if not usable:
            return None
        fewest = min(self.outstanding.get(c, 0) for c in usable)
        tied = [c for c in usable if self.outstanding.get(c, 0) == fewest]
        self._turn += 1
        return tied[self._turn % len(tied)]

    def acquire(self, replica: str) -> None:
        self.outstanding[replica] = self.outstanding.get(replica, 0) + 1

    def release(self, replica: str) -> None:
        left = self.outstanding.get(replica, 0) - 1
        if left > 0:
            self.outstanding[replica] = left
        else:
            self.outstanding.pop(replica, None)

    def eject(self, replica: str) -> bool:
        """Takes a replica out; True when it was in."""
        if replica in self.ejected:
            return False
        self.ejected.add(replica)
        return True

    def readmit(self, replica: str) -> None:
        self.ejected.discard(replica)

    def forget_missing(self, present: Iterable[str]) -> None:
        """Replicas that left the endpoint set are forgotten, so one that comes back Ready
        (a new pod on the same address) starts admitted."""
        keep = set(present)
        self.ejected &= keep
