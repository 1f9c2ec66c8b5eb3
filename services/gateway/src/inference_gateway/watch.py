"""Watches ModelServes and EndpointSlices with the (blocking) official client, each in a
thread of its own, and hands every change to the event loop, which owns the Catalog."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
from collections.abc import Callable
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_gateway.catalog import (
    SERVICE_NAME_LABEL,
    Catalog,
    serve_from_object,
    slice_from_object,
)

logger = logging.getLogger(__name__)

WATCH_SECONDS = 60
MAX_BACKOFF = 10.0


class CatalogWatcher:
    def __init__(
        self,
        api: client.ApiClient,
        catalog: Catalog,
        loop: asyncio.AbstractEventLoop,
        namespace: str | None = None,
        upstream_cidrs: list[str] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.api = api
        self.catalog = catalog
        self.loop = loop
        self.namespace = namespace
        self.networks = [ipaddress.ip_network(c, strict=False) for c in upstream_cidrs or []]
        self.on_change = on_change
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watches: list[watch.Watch] = []
        self._lock = threading.Lock()
        self.serves_synced = asyncio.Event()
        self.slices_synced = asyncio.Event()

    # --- lifecycle ---
    def start(self) -> None:
        for target, name in (
            (self._serves_loop, "watch-modelserves"),
            (self._slices_loop, "watch-endpointslices"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            for w in self._watches:
                w.stop()
        for thread in self._threads:
            thread.join(timeout=2)

    async def wait_synced(self) -> None:
        await self.serves_synced.wait()
        await self.slices_synced.wait()

    # --- hand-over to the loop ---
    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            fn(*args)
            if self.on_change is not None:
                self.on_change()

        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(run)

    # --- ModelServes ---
    def _list_serves(self, **kwargs: Any) -> Any:
        custom = client.CustomObjectsApi(self.api)
        if self.namespace:
            return custom.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, **kwargs
            )
        return custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, **kwargs)

    def _serves_loop(self) -> None:
        def apply_event(kind: str, obj: dict[str, Any]) -> None:
            meta = obj.get("metadata") or {}
            if kind == "DELETED":
                self.catalog.delete_serve(meta.get("namespace", ""), meta.get("name", ""))
                return
            info = serve_from_object(obj)
            if info is not None:
                self.catalog.put_serve(info)

        def replace(items: list[dict[str, Any]]) -> None:
            self.catalog.replace_serves(
                s for s in (serve_from_object(o) for o in items) if s is not None
            )
            self.serves_synced.set()

        self._run(
            "modelserves",
            lambda **kw: self._list_serves(**kw),
            lambda listing: (listing.get("items", []), listing["metadata"]["resourceVersion"]),
            replace,
            apply_event,
            lambda obj: obj,
        )

    # --- EndpointSlices ---
    def _list_slices(self, **kwargs: Any) -> Any:
        discovery = client.DiscoveryV1Api(self.api)
        if self.namespace:
            return discovery.list_namespaced_endpoint_slice(
                self.namespace, label_selector=SERVICE_NAME_LABEL, **kwargs
            )
        return discovery.list_endpoint_slice_for_all_namespaces(
            label_selector=SERVICE_NAME_LABEL, **kwargs
        )

    def _slices_loop(self) -> None:
        def to_dict(obj: Any) -> dict[str, Any]:
            return obj if isinstance(obj, dict) else self.api.sanitize_for_serialization(obj)

        def apply_event(kind: str, obj: dict[str, Any]) -> None:
            meta = obj.get("metadata") or {}
            labels = meta.get("labels") or {}
            if kind == "DELETED":
                self.catalog.delete_slice(
                    meta.get("namespace", ""),
                    labels.get(SERVICE_NAME_LABEL, ""),
                    meta.get("name", ""),
                )
                return
            info = slice_from_object(obj, self.networks)
            if info is not None:
                self.catalog.put_slice(info)

        def replace(items: list[dict[str, Any]]) -> None:
            self.catalog.replace_slices(
                s for s in (slice_from_object(o, self.networks) for o in items) if s is not None
            )
            self.slices_synced.set()

        self._run(
            "endpointslices",
            lambda **kw: self._list_slices(**kw),
            lambda listing: (
                [to_dict(i) for i in listing.items],
                listing.metadata.resource_version,
            ),
            replace,
            apply_event,
            to_dict,
        )

    # --- the list+watch loop ---
    def _run(
        self,
        what: str,
        list_fn: Callable[..., Any],
        unpack: Callable[[Any], tuple[list[dict[str, Any]], str]],
        replace: Callable[[list[dict[str, Any]]], None],
        apply_event: Callable[[str, dict[str, Any]], None],
        to_dict: Callable[[Any], dict[str, Any]],
    ) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                items, resource_version = unpack(list_fn(_request_timeout=30))
                self._post(replace, items)
                w = watch.Watch()
                with self._lock:
                    self._watches.append(w)
                try:
                    for event in w.stream(
                        list_fn,
                        resource_version=resource_version,
                        timeout_seconds=WATCH_SECONDS,
                        _request_timeout=WATCH_SECONDS + 10,
                    ):
                        if self._stop.is_set():
                            break
                        kind = event.get("type")
                        if kind == "ERROR":
                            break  # e.g. 410 Gone: relist
                        if kind in ("ADDED", "MODIFIED", "DELETED"):
                            self._post(apply_event, kind, to_dict(event["object"]))
                finally:
                    with self._lock:
                        self._watches.remove(w)
                backoff = 0.5
            except ApiException as exc:
                if self._stop.is_set():
                    break
                logger.warning("watch of %s failed: %s %s", what, exc.status, exc.reason)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            except Exception as exc:  # connection resets, timeouts: relist after a pause
                if self._stop.is_set():
                    break
                logger.warning("watch of %s interrupted: %r", what, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
