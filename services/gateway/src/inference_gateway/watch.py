"""Keeps the Catalog current: one informer on ModelServes and one on the EndpointSlices of
their Services (`inference_common.informer`), both calling back on the event loop, which
owns the Catalog."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from collections.abc import Callable
from typing import Any

from kubernetes import client

from inference_common.informer import Informer, Listed, ListFn, custom_objects
from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_gateway.catalog import (
    SERVICE_NAME_LABEL,
    Catalog,
    serve_from_object,
    slice_from_object,
)

WATCH_SECONDS = 60


class CatalogWatcher:
    def __init__(
        self,
        api: client.ApiClient,
        catalog: Catalog,
        namespace: str | None = None,
        upstream_cidrs: list[str] | None = None,
        on_change: Callable[[], None] | None = None,
        access_key: str = "",
    ) -> None:
        self.catalog = catalog
        self.access_key = access_key
        self.networks = [ipaddress.ip_network(c, strict=False) for c in upstream_cidrs or []]
        self.on_change = on_change
        self.serves = Informer(
            custom_objects(api, GROUP, VERSION, PLURAL, namespace),
            name="modelserves",
            on_event=self._serve_changed,
            on_relist=self._serves_listed,
            watch_timeout=WATCH_SECONDS,
        )
        self.slices = Informer(
            _endpoint_slices(api, namespace),
            name="endpointslices",
            label_selector=SERVICE_NAME_LABEL,
            on_event=self._slice_changed,
            on_relist=self._slices_listed,
            watch_timeout=WATCH_SECONDS,
        )
        self.serves_synced = self.serves.synced
        self.slices_synced = self.slices.synced

    def start(self) -> None:
        self.serves.start()
        self.slices.start()

    async def stop(self) -> None:
        await asyncio.gather(self.serves.stop(), self.slices.stop())

    async def wait_synced(self) -> None:
        await self.serves_synced.wait()
        await self.slices_synced.wait()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # --- ModelServes ---
    def _serve_changed(self, kind: str, obj: dict[str, Any], _old: dict[str, Any] | None) -> None:
        meta = obj.get("metadata") or {}
        if kind == "DELETED":
            self.catalog.delete_serve(meta.get("namespace", ""), meta.get("name", ""))
        else:
            info = serve_from_object(obj, self.access_key)
            if info is not None:
                self.catalog.put_serve(info)
        self._changed()

    def _serves_listed(self, listed: Listed) -> None:
        self.catalog.replace_serves(
            s
            for s in (serve_from_object(o, self.access_key) for o in listed.items)
            if s is not None
        )
        self._changed()

    # --- EndpointSlices ---
    def _slice_changed(self, kind: str, obj: dict[str, Any], _old: dict[str, Any] | None) -> None:
        meta = obj.get("metadata") or {}
        if kind == "DELETED":
            labels = meta.get("labels") or {}
            self.catalog.delete_slice(
                meta.get("namespace", ""), labels.get(SERVICE_NAME_LABEL, ""), meta.get("name", "")
            )
        else:
            info = slice_from_object(obj, self.networks)
            if info is not None:
                self.catalog.put_slice(info)
        self._changed()

    def _slices_listed(self, listed: Listed) -> None:
        self.catalog.replace_slices(
            s for s in (slice_from_object(o, self.networks) for o in listed.items) if s is not None
        )
        self._changed()


def _endpoint_slices(api: client.ApiClient, namespace: str | None) -> ListFn:
    discovery = client.DiscoveryV1Api(api)
    if namespace:
        return functools.partial(discovery.list_namespaced_endpoint_slice, namespace)
    return discovery.list_endpoint_slice_for_all_namespaces
