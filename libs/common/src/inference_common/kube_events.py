"""Kubernetes Events recorded as client-go's recorder does: the first occurrence creates an
Event, repeats of the same (object, type, reason, message) patch its `count` and
`lastTimestamp`, and repeats within `min_interval` are only counted (and written with the
next repeat after it), so a crash loop or a flapping probe costs at most one write per
interval. Blocking (the official
client): call it from threads, never from an event loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as TransportError

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
MESSAGE_LIMIT = 1024
MIN_INTERVAL_SECONDS = 10.0
MAX_TRACKED = 4096
REQUEST_TIMEOUT = 5.0


@dataclass(frozen=True)
class InvolvedObject:
    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    @staticmethod
    def of(obj: Mapping[str, Any]) -> InvolvedObject:
        meta = obj.get("metadata") or {}
        return InvolvedObject(
            api_version=str(obj.get("apiVersion", "v1")),
            kind=str(obj.get("kind", "")),
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
        )

    def reference(self) -> dict[str, str]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
        }


def timestamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def event_body(
    name: str,
    involved: InvolvedObject,
    type_: str,
    reason: str,
    message: str,
    component: str,
    host: str | None,
    now: datetime,
) -> dict[str, Any]:
    """A core/v1 Event (what `kubectl describe` lists) for its first occurrence."""
    source: dict[str, str] = {"component": component}
    if host:
        source["host"] = host
    stamp = timestamp(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": involved.namespace},
        "involvedObject": involved.reference(),
        "type": type_,
        "reason": reason,
        "message": message[:MESSAGE_LIMIT],
        "source": source,
        "reportingComponent": component,
        "reportingInstance": host or component,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


@dataclass
class _Seen:
    name: str
    count: int
    written_count: int
    written_at: float


Key = tuple[str, str, str, str, str]


class EventRecorder:
    """Records Events through the official client; aggregates repeats per process."""

    def __init__(
        self,
        api: client.ApiClient,
        component: str,
        host: str | None = None,
        min_interval: float = MIN_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.core = client.CoreV1Api(api)
        self.component = component
        self.host = host
        self.min_interval = min_interval
        self.clock = clock
        self._seen: dict[Key, _Seen] = {}
        self._lock = threading.Lock()

    def record(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Records one occurrence; API errors are logged, never raised (events are advisory)."""
        involved = InvolvedObject.of(obj)
        key: Key = (involved.namespace, involved.uid or involved.name, type_, reason, message)
        now = self.clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is None:
                if len(self._seen) >= MAX_TRACKED:
                    self._seen.clear()
                seen = _Seen(f"{involved.name}.{time.time_ns():x}", 1, 0, 0.0)
                self._seen[key] = seen
            else:
                seen.count += 1
                if now - seen.written_at < self.min_interval:
                    return
            first = seen.written_count == 0
            seen.written_count, seen.written_at = seen.count, now
            count, name = seen.count, seen.name
        try:
            if first:
                body = event_body(
                    name,
                    involved,
                    type_,
                    reason,
                    message,
                    self.component,
                    self.host,
                    datetime.now(UTC),
                )
                self.core.create_namespaced_event(
                    involved.namespace,
                    body,  # type: ignore[arg-type]
                    _request_timeout=REQUEST_TIMEOUT,
                )
            else:
                patch = {"count": count, "lastTimestamp": timestamp(datetime.now(UTC))}
                self.core.patch_namespaced_event(
                    name, involved.namespace, patch, _request_timeout=REQUEST_TIMEOUT
                )
        except TransportError as exc:
            log.warning("could not record event %s: %s", reason, exc)
        except ApiException as exc:
            if exc.status == 404 and not first:  # expired (events live an hour): start anew
                with self._lock:
                    self._seen.pop(key, None)
                self.record(obj, type_, reason, message)
                return
            log.warning(
                "could not record event %s on %s %s/%s: %s",
                reason,
                involved.kind,
                involved.namespace,
                involved.name,
                exc.reason,
            )
