"""The pure part of the informer (see `informer.py`): what a watch line means, which
resourceVersion to resume from, when to list again, how long to back off, and the local
cache with its indexes. No I/O, so every rule is table-tested."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Obj = dict[str, Any]
IndexFn = Callable[[Obj], "str | Iterable[str] | None"]

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"
BOOKMARK = "BOOKMARK"
ERROR = "ERROR"
CHANGE_KINDS = frozenset({ADDED, MODIFIED, DELETED})
GONE = 410


class ExpiredError(Exception):
    """The resourceVersion watched from is too old (410 Gone): list again."""


class WatchError(Exception):
    """The apiserver ended a watch with an ERROR event other than 410."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"watch error {status}: {message}")
        self.status = status


@dataclass(frozen=True)
class WatchEvent:
    kind: str
    obj: Obj


@dataclass(frozen=True)
class Listed:
    """A full list. `started_at`: when the request was sent (an object created after it
    may be missing from `items`)."""

    items: list[Obj]
    resource_version: str
    started_at: datetime


@dataclass(frozen=True)
class Change:
    kind: str
    obj: Obj
    old: Obj | None


def object_key(obj: Obj) -> str:
    """`namespace/name`, or `name` for a cluster-scoped object (client-go's key)."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = str(meta.get("name") or "")
    return f"{namespace}/{name}" if namespace else name


def resource_version(obj: Obj) -> str | None:
    value = (obj.get("metadata") or {}).get("resourceVersion")
    return str(value) if value else None


def parse_event(line: str | bytes) -> WatchEvent:
    """One line of a watch stream. An ERROR event raises: ExpiredError for 410, WatchError
    otherwise."""
    event = json.loads(line)
    kind = str(event.get("type") or "")
    obj = event.get("object") or {}
    if kind == ERROR:
        code = obj.get("code")
        if code == GONE:
            raise ExpiredError(str(obj.get("message") or "resourceVersion expired"))
        raise WatchError(code, str(obj.get("message") or obj.get("reason") or "unknown"))
    return WatchEvent(kind, obj)


def next_resource_version(event: WatchEvent, current: str) -> str:
    """Where to resume after `event`: its object's resourceVersion (bookmarks carry one
    too), else where we were."""
    return resource_version(event.obj) or current


def is_expired(error: BaseException) -> bool:
    """410 Gone as an ERROR event or as the status of the watch request itself."""
    return isinstance(error, ExpiredError) or getattr(error, "status", None) == GONE


def after_failure(error: BaseException, current: str | None) -> tuple[str | None, bool]:
    """(resourceVersion to go on from, whether to back off first). Expired: list again at
    once. Anything else: back off, then watch again from where we were (None: list)."""
    if is_expired(error):
        return None, False
    return current, True


def next_backoff(current: float, maximum: float) -> float:
    return min(current * 2, maximum)


def index_values(fn: IndexFn, obj: Obj) -> tuple[str, ...]:
    values = fn(obj)
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(values)


class Cache:
    """The objects last seen, by `object_key`, with named indexes (name → value → keys).
    Safe to read from any thread. An indexer that raises leaves the cache as it was."""

    def __init__(self, indexers: Mapping[str, IndexFn] | None = None) -> None:
        self._indexers = dict(indexers or {})
        self._objects: dict[str, Obj] = {}
        self._indexes: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}
        self._entries: dict[str, dict[str, tuple[str, ...]]] = {}
        self._lock = threading.RLock()

    def get(self, key: str) -> Obj | None:
        with self._lock:
            return self._objects.get(key)

    def items(self) -> list[Obj]:
        with self._lock:
            return list(self._objects.values())

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._objects)

    def __len__(self) -> int:
        return len(self._objects)

    def by_index(self, name: str, value: str) -> list[Obj]:
        """The objects whose indexer `name` yields `value` (KeyError: no such index)."""
        with self._lock:
            keys = self._indexes[name].get(value, set())
            return [self._objects[key] for key in sorted(keys)]

    def apply(self, kind: str, obj: Obj) -> Change | None:
        """A watch event applied; the change it made (None for kinds that carry none)."""
        if kind not in CHANGE_KINDS:
            return None
        key = object_key(obj)
        entries = {} if kind == DELETED else self._entries_of(obj)
        with self._lock:
            old = self._objects.get(key)
            self._unindex(key)
            if kind == DELETED:
                self._objects.pop(key, None)
                return Change(DELETED, obj, old)
            self._objects[key] = obj
            self._index(key, entries)
        return Change(ADDED if old is None else MODIFIED, obj, old)

    def replace(self, items: Iterable[Obj]) -> list[Change]:
        """The cache becomes `items`; the changes a watch would have shown: ADDED for new
        keys, MODIFIED when the resourceVersion moved, DELETED (last known object) for keys
        no longer listed."""
        fresh = {object_key(obj): obj for obj in items}
        entries = {key: self._entries_of(obj) for key, obj in fresh.items()}
        changes: list[Change] = []
        with self._lock:
            for key, gone in self._objects.items():
                if key not in fresh:
                    changes.append(Change(DELETED, gone, gone))
            for key, obj in fresh.items():
                old = self._objects.get(key)
                if old is None:
                    changes.append(Change(ADDED, obj, None))
                elif not _same_version(old, obj):
                    changes.append(Change(MODIFIED, obj, old))
            self._objects = fresh
            self._indexes = {name: {} for name in self._indexers}
            self._entries = {}
            for key, entry in entries.items():
                self._index(key, entry)
        return changes

    def _entries_of(self, obj: Obj) -> dict[str, tuple[str, ...]]:
        return {name: index_values(fn, obj) for name, fn in self._indexers.items()}

    def _index(self, key: str, entries: dict[str, tuple[str, ...]]) -> None:
        self._entries[key] = entries
        for name, values in entries.items():
            for value in values:
                self._indexes[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str) -> None:
        for name, values in self._entries.pop(key, {}).items():
            index = self._indexes[name]
            for value in values:
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]


def _same_version(old: Obj, new: Obj) -> bool:
    version = resource_version(new)
    if version is None:
        return old == new
    return version == resource_version(old)


def absorb(cache: Cache, delivery: Listed | WatchEvent) -> list[Change]:
    """A list or watch event applied to the cache; the changes it made."""
    if isinstance(delivery, Listed):
        return cache.replace(delivery.items)
    change = cache.apply(delivery.kind, delivery.obj)
    return [] if change is None else [change]
