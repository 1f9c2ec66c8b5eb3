"""What happened to a server, from Kubernetes: the Events of its ModelServe and its pods
(newest first) and its pods' logs through the pod log API (`kubectl logs`). Blocking reads
of the official client; the async wrappers run them in a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as TransportError

from inference_common.errors import BadRequestError, NotFoundError, UnavailableError
from inference_common.modelserve import KIND, MODELSERVE_LABEL

REQUEST_TIMEOUT = 10.0
FOLLOW_IDLE_SECONDS = 300.0
"""A followed log that shows nothing new this long ends (the client can follow again)."""
SERVER_CONTAINER = "llama-server"
CHUNK = 16 * 1024
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ServerEvent:
    type: str
    reason: str
    message: str
    object_kind: str
    object_name: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "reason": self.reason,
            "message": self.message,
            "object": {"kind": self.object_kind, "name": self.object_name},
            "count": self.count,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "source": self.source,
        }


def pod_name_pattern(server_name: str) -> re.Pattern[str]:
    """Names of the pods of the server's Deployment (`<name>-<replicaset hash>-<suffix>`),
    so pods that are gone (a crash-looped one replaced, a rollout) keep their events."""
    return re.compile(rf"^{re.escape(server_name)}-[a-z0-9]+-[a-z0-9]{{5}}$")


def belongs(involved: Any, server_name: str, pods: re.Pattern[str]) -> bool:
    if involved is None:
        return False
    if involved.kind == KIND:
        return bool(involved.name == server_name)
    return involved.kind == "Pod" and bool(pods.match(involved.name or ""))


def to_event(event: Any) -> ServerEvent:
    """Core/v1 Events (kubelet, the operator) and events.k8s.io ones (the scheduler: a time
    and a series instead of timestamps and a count) alike."""
    series = event.series
    first = event.first_timestamp or event.event_time or event.metadata.creation_timestamp
    last = (
        event.last_timestamp
        or (series.last_observed_time if series is not None else None)
        or event.event_time
        or first
    )
    count = event.count or (series.count if series is not None else None) or 1
    source = event.source.component if event.source and event.source.component else ""
    return ServerEvent(
        type=event.type or "Normal",
        reason=event.reason or "",
        message=event.message or "",
        object_kind=event.involved_object.kind or "",
        object_name=event.involved_object.name or "",
        count=int(count),
        first_seen=first,
        last_seen=last,
        source=source or event.reporting_component or "",
    )


def server_events(items: Iterable[Any], server_name: str) -> list[ServerEvent]:
    """The events of one server out of its namespace's, newest first."""
    pods = pod_name_pattern(server_name)
    found = [to_event(e) for e in items if belongs(e.involved_object, server_name, pods)]
    return sorted(found, key=lambda e: e.last_seen or _EPOCH, reverse=True)


def pick_pod(pods: Iterable[Mapping[str, Any]], wanted: str | None) -> str | None:
    """The pod whose logs to show: `wanted` when it is one of them, else the newest running
    one, else the newest."""
    listed = list(pods)
    names = {p["name"] for p in listed}
    if wanted is not None:
        return wanted if wanted in names else None
    ranked = sorted(listed, key=lambda p: (p["running"], p["created"]), reverse=True)
    return ranked[0]["name"] if ranked else None


def pod_summary(pod: Any) -> dict[str, Any]:
    return {
        "name": pod.metadata.name,
        "running": (pod.status.phase if pod.status else "") == "Running",
        "created": pod.metadata.creation_timestamp or _EPOCH,
    }


def pod_out(pod: Any) -> dict[str, Any]:
    """What a log chooser shows of a pod: its phase, node and containers (init ones first,
    as their logs come first)."""
    spec, status = pod.spec, pod.status
    init = [c.name for c in (spec.init_containers or [])] if spec else []
    main = [c.name for c in (spec.containers or [])] if spec else []
    created = pod.metadata.creation_timestamp
    return {
        "name": pod.metadata.name,
        "phase": (status.phase if status else None) or "Unknown",
        "node": (spec.node_name if spec else None) or None,
        "created": created.isoformat() if created else None,
        "containers": [*init, *main],
    }


def _unavailable(what: str, exc: ApiException) -> UnavailableError:
    return UnavailableError(
        f"Kubernetes could not {what} ({exc.status} {exc.reason}): {_body_message(exc)}",
        {"status": exc.status},
    )


def _body_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message", "")).strip()
    except (ValueError, AttributeError):
        return str(exc.body or "")[:500]


class ServerStory:
    def __init__(self, api: client.ApiClient) -> None:
        self.core = client.CoreV1Api(api)

    def events_sync(self, namespace: str, name: str) -> list[ServerEvent]:
        try:
            listed = self.core.list_namespaced_event(namespace, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            raise _unavailable("list events", exc) from exc
        except TransportError as exc:
            raise UnavailableError("Kubernetes API unreachable") from exc
        return server_events(listed.items, name)

    def pods_sync(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [pod_summary(p) for p in self._pods(namespace, name)]

    def pods_out_sync(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """The server's pods, newest first."""
        pods = sorted(
            self._pods(namespace, name),
            key=lambda p: p.metadata.creation_timestamp or _EPOCH,
            reverse=True,
        )
        return [pod_out(p) for p in pods]

    def _pods(self, namespace: str, name: str) -> list[Any]:
        try:
            listed = self.core.list_namespaced_pod(
                namespace,
                label_selector=f"{MODELSERVE_LABEL}={name}",
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            raise _unavailable("list pods", exc) from exc
        except TransportError as exc:
            raise UnavailableError("Kubernetes API unreachable") from exc
        return [p for p in listed.items if p.metadata is not None]

    def open_log_sync(
        self, namespace: str, pod: str, container: str, tail: int | None, follow: bool
    ) -> Any:
        """The pod log API's response, unread (`_preload_content=False`), for streaming."""
        try:
            return self.core.read_namespaced_pod_log(
                pod,
                namespace,
                container=container,
                tail_lines=tail,
                follow=follow,
                _preload_content=False,
                _request_timeout=(REQUEST_TIMEOUT, FOLLOW_IDLE_SECONDS)
                if follow
                else REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            if exc.status == 404:
                raise NotFoundError(f"pod {pod!r} or its container {container!r} is gone") from exc
            if exc.status == 400:
                raise BadRequestError(_body_message(exc) or "the pod has no such log") from exc
            raise _unavailable("read the pod's log", exc) from exc
        except TransportError as exc:
            raise UnavailableError("Kubernetes API unreachable") from exc

    async def events(self, namespace: str, name: str) -> list[ServerEvent]:
        return await asyncio.to_thread(self.events_sync, namespace, name)

    async def pods(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.pods_out_sync, namespace, name)

    async def open_log(
        self,
        namespace: str,
        name: str,
        pod: str | None,
        container: str,
        tail: int | None,
        follow: bool,
    ) -> tuple[str, Any]:
        pods = await asyncio.to_thread(self.pods_sync, namespace, name)
        chosen = pick_pod(pods, pod)
        if chosen is None:
            raise NotFoundError(
                f"pod {pod!r} is not one of this server's" if pod else "the server has no pod"
            )
        response = await asyncio.to_thread(
            self.open_log_sync, namespace, chosen, container, tail, follow
        )
        return chosen, response


async def stream(response: Any) -> AsyncIterator[bytes]:
    """The log response's bytes as they come. Read to its end, its connection goes back to
    the client's pool; left early (the caller went away: the generator is closed while a
    read waits in its thread), the connection is abandoned instead (see `abandon`)."""
    finished = False
    try:
        while True:
            try:
                chunk = await asyncio.to_thread(response.read1, CHUNK)
            except TransportError:
                finished = True  # idle past FOLLOW_IDLE_SECONDS, or the apiserver closed it
                return
            if not chunk:
                finished = True
                return
            yield chunk
    finally:
        if finished:
            response.release_conn()
            response.close()
        else:
            abandon(response)


def abandon(response: Any) -> None:
    """Ends a log stream nobody reads any more without blocking the event loop: closing the
    response would wait for the read blocked in a worker thread (the file object's lock)
    until the next log line or the idle timeout, and a half-read connection must never go
    back to the pool (the next request on it would read the log's chunks). The socket is
    shut down, so the blocked read returns at once; the response is closed in a thread."""
    connection = getattr(response, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    asyncio.get_running_loop().run_in_executor(None, _close_quietly, response)


def _close_quietly(response: Any) -> None:
    with contextlib.suppress(Exception):
        response.close()
