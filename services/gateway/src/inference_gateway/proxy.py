"""Reading a replica for every API: open a call, read its stream as chunks or events
(retrying another replica when one fails before producing output), map its errors."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing, suppress
from typing import Any

from inference_gateway.errors import GatewayError, Kind
from inference_gateway.events import Generated, UpstreamStreamError, event_from_chunk, sse_data
from inference_gateway.gateway import Gateway, Route
from inference_gateway.rategate import count_usage
from inference_gateway.tracking import Progress, Tracker
from inference_gateway.upstream import UpstreamCall, UpstreamTransportError

MAX_STREAM_ATTEMPTS = 2


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


async def last_of(objects: AsyncGenerator[dict[str, Any], None]) -> dict[str, Any]:
    """The last object of a stream (a whole answer built from its events); {} if none."""
    last: dict[str, Any] = {}
    async with aclosing(objects) as items:
        async for obj in items:
            last = obj
    return last


def upstream_error(status: int, raw: bytes) -> GatewayError:
    """A replica's 4xx/5xx answer as the gateway's error (message kept)."""
    message = raw.decode("utf-8", "replace")[:2000]
    with suppress(ValueError, AttributeError, TypeError):
        doc = json.loads(raw)
        err = doc.get("error", doc)
        message = str(err.get("message", message)) if isinstance(err, dict) else str(err)
    if 400 <= status < 500:
        return GatewayError(Kind.INVALID, message, status=status if status != 401 else 400)
    if status == 501:
        return GatewayError(Kind.NOT_SUPPORTED, message)
    return GatewayError(Kind.UPSTREAM, f"the model server failed: {message}")


async def open_call(
    gw: Gateway, route: Route, path: str, body: dict[str, Any], progress: Progress
) -> UpstreamCall:
    started = time.perf_counter()
    call = await gw.upstream.open(
        route.replicas, path, dumps(body), route.model, progress.request_id
    )
    serve = gw.catalog.serve_at(call.replica, route.serve)
    Tracker.upstream_answered(
        progress,
        time.perf_counter() - started,
        call.replica,
        serve.server_uuid if serve is not None else None,
    )
    if call.status >= 400:
        try:
            raw = await call.read()
        finally:
            gw.upstream.finish(call)
        raise upstream_error(call.status, raw)
    return call


def _has_output(chunk: dict[str, Any]) -> bool:
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta")
        if isinstance(delta, dict):
            if delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls"):
                return True
        elif choice.get("text"):
            return True
    return False


async def chunks(
    gw: Gateway,
    route: Route,
    path: str,
    body: dict[str, Any],
    progress: Progress,
    first: UpstreamCall | None = None,
) -> AsyncGenerator[dict[str, Any], None]:
    """The replica's SSE stream as parsed chunks. A replica failing before any output is
    taken out and the request goes to another; failing after output raises
    GatewayError(UPSTREAM) (the caller ends its stream with an error event)."""
    produced = False
    call = first
    for attempt in range(MAX_STREAM_ATTEMPTS):
        if call is None:
            call = await open_call(gw, route, path, body, progress)
        failed = False
        try:
            async for line in call.lines():
                data = sse_data(line)
                if not data or data == "[DONE]":
                    continue
                try:
                    chunk = json.loads(data)
                except ValueError as exc:
                    raise UpstreamStreamError("malformed chunk") from exc
                if "error" in chunk:
                    raise UpstreamStreamError(str(chunk["error"]))
                if _has_output(chunk):
                    produced = True
                    Tracker.tokens(progress)
                if "usage" in chunk:
                    count_usage(chunk)
                Tracker.answer(progress, chunk)
                yield chunk
            return
        except (UpstreamTransportError, UpstreamStreamError) as exc:
            failed = isinstance(exc, UpstreamTransportError)
            if produced or attempt + 1 == MAX_STREAM_ATTEMPTS or not failed:
                raise GatewayError(
                    Kind.UPSTREAM, "the model server failed during the response"
                ) from exc
        finally:
            gw.upstream.finish(call, failed=failed)
            call = None


async def events(
    gw: Gateway,
    route: Route,
    path: str,
    body: dict[str, Any],
    progress: Progress,
    first: UpstreamCall | None = None,
) -> AsyncGenerator[Generated, None]:
    async with aclosing(chunks(gw, route, path, body, progress, first)) as items:
        async for chunk in items:
            yield event_from_chunk(chunk)
