"""Mirrors ModelServe status into the servers table through one watch.

A worker thread lists and watches ModelServes in every namespace (the client blocks) and
hands events to the event loop; one async task writes them to Postgres. Listing is done at
start and after the watch expires (410 Gone); /status then reads Postgres only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference_api.mirror import mirrored_server
from inference_api.modelserve_client import ModelServeClient
from inference_api.repositories.servers import ServerRepository
from inference_common.db import unit_of_work

logger = logging.getLogger(__name__)

WATCH_TIMEOUT_SECONDS = 240
MAX_BACKOFF_SECONDS = 10.0
RELIST_GRACE = timedelta(seconds=30)  # records younger than this may not be listed yet


@dataclass(frozen=True)
class _Relist:
    items: list[dict[str, Any]]
    started_at: datetime


@dataclass(frozen=True)
class _Event:
    kind: str
    obj: dict[str, Any]


class _ExpiredError(Exception):
    """The watch's resourceVersion is too old: list again."""


class ModelServeWatcher:
    def __init__(
        self, modelserves: ModelServeClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self.modelserves = modelserves
        self.sessions = sessions
        self.synced = asyncio.Event()
        self._queue: asyncio.Queue[_Relist | _Event] = asyncio.Queue()
        self._stop = threading.Event()
        self._response: Any = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._consumer = asyncio.create_task(self._consume(), name="modelserve-mirror")
        self._thread = threading.Thread(target=self._run, name="modelserve-watch", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._response is not None:
                with contextlib.suppress(Exception):
                    self._response.shutdown()
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)

    # thread side ----------------------------------------------------------------------------

    def _post(self, item: _Relist | _Event) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            self._stop.set()
            return
        try:
            loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # loop closed meanwhile
            self._stop.set()

    def _run(self) -> None:
        backoff = 1.0
        resource_version: str | None = None
        while not self._stop.is_set():
            try:
                if resource_version is None:
                    started = datetime.now(UTC)
                    items, resource_version = self.modelserves.list_all_sync()
                    self._post(_Relist(items, started))
                resource_version = self._watch(resource_version)
                backoff = 1.0
            except _ExpiredError:
                resource_version = None
            except Exception:
                if self._stop.is_set():
                    break
                logger.warning("ModelServe watch failed; retrying", exc_info=True)
                resource_version = None
                self._stop.wait(backoff)  # back off (returns at once on stop)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _watch(self, resource_version: str) -> str:
        response = self.modelserves.watch_response_sync(resource_version, WATCH_TIMEOUT_SECONDS)
        with self._lock:
            self._response = response
        try:
            for line in iter_resp_lines(response):
                if self._stop.is_set():
                    break
                event = json.loads(line)
                kind = event.get("type")
                obj = event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _ExpiredError
                    raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                resource_version = str(
                    (obj.get("metadata") or {}).get("resourceVersion") or resource_version
                )
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    self._post(_Event(str(kind), obj))
        finally:
            with self._lock:
                self._response = None
            response.release_conn()
        return resource_version

    # loop side -------------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._apply(item)
            except Exception:
                logger.exception("could not mirror a ModelServe event")
            if isinstance(item, _Relist):
                self.synced.set()

    async def _apply(self, item: _Relist | _Event) -> None:
        async with unit_of_work(self.sessions) as session:
            servers = ServerRepository(session)
            if isinstance(item, _Event):
                mirrored = mirrored_server(item.obj, deleted=item.kind == "DELETED")
                if mirrored is not None:
                    await servers.upsert_mirror(mirrored)
                return
            present: set[UUID] = set()
            for obj in item.items:
                mirrored = mirrored_server(obj)
                if mirrored is not None:
                    present.add(mirrored.server_uuid)
                    await servers.upsert_mirror(mirrored)
            stopped = await servers.stop_missing(present, item.started_at - RELIST_GRACE)
            logger.info(
                "ModelServes listed", extra={"count": len(present), "stopped_missing": stopped}
            )
