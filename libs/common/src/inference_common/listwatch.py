"""The blocking half of the informer (see `informer.py`): one list-watch loop in a thread of
its own, on the official client. List, watch from the list's resourceVersion with bookmarks,
list again on 410 Gone, back off (bounded) on failures, rotate streams with a server-side
timeout; `stop` closes the open response so it never waits for the stream to end."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.watch.watch import iter_resp_lines

from inference_common.informer_core import (
    CHANGE_KINDS,
    Listed,
    WatchEvent,
    after_failure,
    next_backoff,
    next_resource_version,
    parse_event,
)

logger = logging.getLogger(__name__)

Delivery = Listed | WatchEvent
ListFn = Callable[..., Any]
"""An official-client list operation with everything but the query bound (namespace,
group/version/plural); called with `watch=True` to watch."""

WATCH_TIMEOUT_SECONDS = 240
REQUEST_TIMEOUT_SECONDS = 30.0
INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0
STOP_JOIN_SECONDS = 5.0


def custom_objects(
    api: client.ApiClient, group: str, version: str, plural: str, namespace: str | None = None
) -> ListFn:
    """The list operation of a custom resource, in one namespace or all."""
    custom = client.CustomObjectsApi(api)
    if namespace:
        return functools.partial(
            custom.list_namespaced_custom_object, group, version, namespace, plural
        )
    return functools.partial(custom.list_cluster_custom_object, group, version, plural)


class ListWatch:
    """The blocking loop of one informer, in a daemon thread: every list and watch event,
    in order, goes to `deliver` (called on that thread)."""

    def __init__(
        self,
        list_fn: ListFn,
        deliver: Callable[[Delivery], None],
        *,
        name: str,
        label_selector: str | None = None,
        field_selector: str | None = None,
        watch_timeout: int = WATCH_TIMEOUT_SECONDS,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        self.list_fn = list_fn
        self.deliver = deliver
        self.name = name
        self.query = {
            key: value
            for key, value in (
                ("label_selector", label_selector),
                ("field_selector", field_selector),
            )
            if value
        }
        self.watch_timeout = watch_timeout
        self.request_timeout = request_timeout
        self.max_backoff = max_backoff
        self.resource_version: str | None = None
        """Where the next watch starts: the last event's or bookmark's (None: list first)."""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._response: Any = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"watch-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Asks the loop to end and closes the response it is reading (never blocks)."""
        self._stop.set()
        with self._lock:
            response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.shutdown()

    def join(self, timeout: float = STOP_JOIN_SECONDS) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        backoff = INITIAL_BACKOFF_SECONDS
        while not self._stop.is_set():
            try:
                if self.resource_version is None:
                    listed = self._list()
                    self.deliver(listed)
                    self.resource_version = listed.resource_version
                self._watch(self.resource_version)
                backoff = INITIAL_BACKOFF_SECONDS
            except Exception as exc:
                if self._stop.is_set():
                    break
                self.resource_version, wait = after_failure(exc, self.resource_version)
                if not wait:
                    logger.info("%s: resourceVersion expired; listing again", self.name)
                    continue
                logger.warning(
                    "watch of %s failed (%r); retrying in %.1fs", self.name, exc, backoff
                )
                self._stop.wait(backoff)
                backoff = next_backoff(backoff, self.max_backoff)

    def _list(self) -> Listed:
        started = datetime.now(UTC)
        with self._reading(
            self.list_fn(
                _preload_content=False, _request_timeout=self.request_timeout, **self.query
            )
        ) as response:
            body = json.loads(response.data)
        return Listed(
            list(body.get("items") or []), str(body["metadata"]["resourceVersion"]), started
        )

    def _watch(self, version: str) -> None:
        """Watches from `version` until the server ends the stream, keeping
        `resource_version` at the last event seen (a failed stream resumes from there)."""
        response = self.list_fn(
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=self.watch_timeout,
            _preload_content=False,
            _request_timeout=(self.request_timeout, self.watch_timeout + self.request_timeout),
            **self.query,
        )
        with self._reading(response):
            for line in iter_resp_lines(response):
                if self._stop.is_set():
                    break
                if not line:
                    continue
                event = parse_event(line)
                version = next_resource_version(event, version)
                self.resource_version = version
                if event.kind in CHANGE_KINDS:
                    self.deliver(event)

    @contextlib.contextmanager
    def _reading(self, response: Any) -> Iterator[Any]:
        """Makes `response` the one `stop` closes; closes it afterwards (a stream left
        half-read must not go back to the pool) and releases its connection."""
        with self._lock:
            self._response = response
        if self._stop.is_set():
            with contextlib.suppress(Exception):
                response.shutdown()
        try:
            yield response
        finally:
            with self._lock:
                self._response = None
            response.close()
            response.release_conn()
