"""One Kubernetes list-watch for the platform: list, watch from the list's resourceVersion
(bookmarks keep it current), list again when it expires (410 Gone), back off (bounded) on
failures, keep a local cache with indexes, and call back on every change.

Built on the official client the platform already uses: its calls block, so the list-watch
runs in a thread of its own (`listwatch.ListWatch`; the pure rules are in `informer_core`).
`Informer` hands what it sees to the event loop, where the cache is updated and the
callbacks (sync or async) run in order; `ThreadInformer` calls them on the watch thread,
for code that is threaded (the local kubelet).

    informer = Informer(custom_objects(api, GROUP, VERSION, PLURAL), name="modelserves",
                        indexers={"by_model": lambda o: o["spec"]["model"]["name"]},
                        on_event=changed)          # changed(kind, obj, old)
    informer.start(); await informer.synced.wait()
    informer.cache.by_index("by_model", "smollm2:135m")
    await informer.stop()

`on_relist(listed)`, when given, receives every full list (`Listed`: items, its
resourceVersion, when it was requested) in place of `on_event`; without it a list is
turned into the ADDED/MODIFIED/DELETED events a watch would have shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from inference_common.informer_core import Cache, Change, IndexFn, Listed, Obj, absorb
from inference_common.listwatch import (
    MAX_BACKOFF_SECONDS,
    WATCH_TIMEOUT_SECONDS,
    Delivery,
    ListFn,
    ListWatch,
    custom_objects,
)

__all__ = ["Informer", "ListFn", "Listed", "ThreadInformer", "custom_objects"]

logger = logging.getLogger(__name__)

EventCallback = Callable[[str, Obj, Obj | None], object]
"""on_event(kind, obj, old): a function or a coroutine function."""
RelistCallback = Callable[[Listed], object]
SyncedT = TypeVar("SyncedT", asyncio.Event, threading.Event)


class _Informer(Generic[SyncedT]):
    synced: SyncedT
    """Set once the first list has been applied and its callbacks have run."""

    def __init__(
        self,
        list_fn: ListFn,
        *,
        name: str,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFn] | None = None,
        on_event: EventCallback | None = None,
        on_relist: RelistCallback | None = None,
        watch_timeout: int = WATCH_TIMEOUT_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        self.name = name
        self.cache = Cache(indexers)
        self.on_event = on_event
        self.on_relist = on_relist
        self.synced = self._new_synced()
        self.listwatch = ListWatch(
            list_fn,
            self._deliver,
            name=name,
            label_selector=label_selector,
            field_selector=field_selector,
            watch_timeout=watch_timeout,
            max_backoff=max_backoff,
        )

    def _new_synced(self) -> SyncedT:
        raise NotImplementedError

    def _deliver(self, delivery: Delivery) -> None:
        """Called on the watch thread with every list and event, in order."""
        raise NotImplementedError

    def calls(self, delivery: Delivery) -> list[Callable[[], object]]:
        """Updates the cache; the callbacks the delivery triggers, to run in order."""
        try:
            changes: list[Change] = absorb(self.cache, delivery)
        except Exception:
            logger.exception("%s: a change could not be applied to the cache", self.name)
            return []
        if isinstance(delivery, Listed) and self.on_relist is not None:
            return [functools.partial(self.on_relist, delivery)]
        on_event = self.on_event
        if on_event is None:
            return []
        return [functools.partial(on_event, c.kind, c.obj, c.old) for c in changes]


class Informer(_Informer[asyncio.Event]):
    """List-watch with a cache and callbacks (sync or async) on the event loop."""

    _loop: asyncio.AbstractEventLoop | None = None
    _consumer: asyncio.Task[None] | None = None

    def _new_synced(self) -> asyncio.Event:
        return asyncio.Event()

    def start(self) -> None:
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._consumer = asyncio.create_task(self._consume(), name=f"informer-{self.name}")
        self.listwatch.start()

    async def stop(self) -> None:
        self.listwatch.stop()
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
        await asyncio.to_thread(self.listwatch.join)

    def _deliver(self, delivery: Delivery) -> None:
        loop = self._loop
        try:
            if loop is None or loop.is_closed():
                raise RuntimeError("event loop closed")
            loop.call_soon_threadsafe(self._queue.put_nowait, delivery)
        except RuntimeError:
            self.listwatch.stop()

    async def _consume(self) -> None:
        while True:
            delivery = await self._queue.get()
            for call in self.calls(delivery):
                try:
                    result = call()
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    logger.exception("%s: a change callback failed", self.name)
            if isinstance(delivery, Listed):
                self.synced.set()


class ThreadInformer(_Informer[threading.Event]):
    """List-watch with a cache and callbacks on the watch thread (plain functions only)."""

    def _new_synced(self) -> threading.Event:
        return threading.Event()

    def start(self) -> None:
        self.listwatch.start()

    def stop(self) -> None:
        self.listwatch.stop()
        self.listwatch.join()

    def _deliver(self, delivery: Delivery) -> None:
        for call in self.calls(delivery):
            try:
                call()
            except Exception:
                logger.exception("%s: a change callback failed", self.name)
        if isinstance(delivery, Listed):
            self.synced.set()
