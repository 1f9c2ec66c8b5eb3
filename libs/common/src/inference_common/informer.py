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


class _Callbacks:
    def __init__(
        self,
        name: str,
        indexers: Mapping[str, IndexFn] | None,
        on_event: EventCallback | None,
        on_relist: RelistCallback | None,
    ) -> None:
        self.name = name
        self.cache = Cache(indexers)
        self.on_event = on_event
        self.on_relist = on_relist

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


class Informer(_Callbacks):
    """List-watch with a cache and callbacks on the event loop (see the module doc)."""

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
        super().__init__(name, indexers, on_event, on_relist)
        self.synced = asyncio.Event()
        self.listwatch = ListWatch(
            list_fn,
            self._post,
            name=name,
            label_selector=label_selector,
            field_selector=field_selector,
            watch_timeout=watch_timeout,
            max_backoff=max_backoff,
        )
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumer: asyncio.Task[None] | None = None

    def start(self) -> None:
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

    def _post(self, delivery: Delivery) -> None:
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


class ThreadInformer(_Callbacks):
    """List-watch with a cache and callbacks on the watch thread (sync callbacks only)."""

    def __init__(
        self,
        list_fn: ListFn,
        *,
        name: str,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFn] | None = None,
        on_event: Callable[[str, Obj, Obj | None], None] | None = None,
        on_relist: Callable[[Listed], None] | None = None,
        watch_timeout: int = WATCH_TIMEOUT_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        super().__init__(name, indexers, on_event, on_relist)
        self.synced = threading.Event()
        self.listwatch = ListWatch(
            list_fn,
            self._deliver,
            name=name,
            label_selector=label_selector,
            field_selector=field_selector,
            watch_timeout=watch_timeout,
            max_backoff=max_backoff,
        )

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
