"""One inference request from start to end, written once for every API.

`Exchange` starts the request's progress and metrics and holds its upstream call. `stream`
opens the call before answering (so a replica's refusal is still a plain HTTP error) and
streams frames; `whole` builds one JSON answer while watching for the client leaving. On
every way out — done, failed, client gone before or during the answer — the call is
closed and the request accounted for exactly once (`Exchange.close` is idempotent)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable, Coroutine
from contextlib import aclosing
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from inference_gateway import proxy
from inference_gateway.deps import request_id
from inference_gateway.errors import GatewayError, Kind
from inference_gateway.events import Generated
from inference_gateway.gateway import Gateway, Route
from inference_gateway.rategate import count_usage
from inference_gateway.tracking import Progress, Tracker
from inference_gateway.upstream import UpstreamCall, UpstreamTransportError

T = TypeVar("T")


class ClientGoneError(Exception):
    """The client disconnected before the answer was complete."""


def account(
    progress: Progress, error: BaseException | None, completion_tokens: int | None = None
) -> None:
    """Closes the books on a request: done, cancelled (client left) or failed."""
    if error is None:
        Tracker.finish(progress, "done", 200, completion_tokens=completion_tokens)
    elif isinstance(error, (asyncio.CancelledError, ClientGoneError, GeneratorExit)):
        Tracker.finish(progress, "cancelled", 499, "cancelled")
    elif isinstance(error, GatewayError):
        Tracker.finish(progress, "failed", error.status, error.kind.value)
    else:
        Tracker.finish(progress, "failed", 500, "internal")


class Exchange:
    """A request to one model: its progress, the upstream call it holds and, once known,
    the completion tokens to account."""

    __slots__ = ("body", "call", "gw", "path", "progress", "route", "tokens")

    def __init__(
        self, gw: Gateway, route: Route, api: str, owner: str, path: str, body: dict[str, Any]
    ) -> None:
        self.gw = gw
        self.route = route
        self.path = path
        self.body = body
        self.progress = gw.tracker.start(request_id(), api, route.model, owner)
        self.call: UpstreamCall | None = None
        self.tokens: int | None = None

    async def open(self) -> None:
        self.call = await proxy.open_call(self.gw, self.route, self.path, self.body, self.progress)

    def chunks(self) -> AsyncGenerator[dict[str, Any], None]:
        """The replica's stream as parsed chunks (on the opened call, or a new one)."""
        return proxy.chunks(self.gw, self.route, self.path, self.body, self.progress, self.call)

    def events(self) -> AsyncGenerator[Generated, None]:
        return proxy.events(self.gw, self.route, self.path, self.body, self.progress, self.call)

    async def read_json(self) -> dict[str, Any]:
        """The replica's whole (not streamed) JSON answer."""
        await self.open()
        call = self.call
        assert call is not None
        failed = True
        try:
            raw = await call.read()
            failed = False
        except UpstreamTransportError as exc:
            raise GatewayError(
                Kind.UPSTREAM, "the model server failed during the response"
            ) from exc
        finally:
            self.gw.upstream.finish(call, failed=failed)
        try:
            doc: dict[str, Any] = json.loads(raw)
        except ValueError as exc:
            raise GatewayError(Kind.UPSTREAM, "the model server sent a malformed answer") from exc
        count_usage(doc)
        Tracker.answer(self.progress, doc)
        return doc

    def close(self, error: BaseException | None) -> None:
        """The call closed (stopping the replica's work if unread) and the request
        accounted for; later calls change nothing."""
        if self.call is not None and not self.call.finished:
            self.gw.upstream.finish(self.call)
        account(self.progress, error, self.tokens)


async def stream(
    exchange: Exchange,
    parts: AsyncGenerator[Any, None],
    error_frame: Callable[[GatewayError], bytes],
    media_type: str,
    headers: dict[str, str] | None = None,
    frame: Callable[[Any], bytes] | None = None,
) -> Response:
    """A streamed answer of `parts` (bytes, or objects encoded by `frame`). A GatewayError
    before the call is open is raised (an HTTP error); one during the stream becomes a last
    frame in the API's own shape."""
    try:
        await exchange.open()
    except BaseException as exc:
        exchange.close(exc)
        raise
    return ExchangeStream(
        _frames(exchange, parts, error_frame, frame), exchange, media_type, headers
    )


async def whole(
    request: Request, exchange: Exchange, answer: Coroutine[Any, Any, dict[str, Any]]
) -> Response:
    """One JSON answer; the client leaving cancels `answer` (and so its upstream call)."""
    error: BaseException | None = None
    try:
        return JSONResponse(await until_disconnect(request, answer))
    except BaseException as exc:
        error = exc
        raise
    finally:
        exchange.close(error)


async def _frames(
    exchange: Exchange,
    parts: AsyncGenerator[Any, None],
    error_frame: Callable[[GatewayError], bytes],
    frame: Callable[[Any], bytes] | None,
) -> AsyncGenerator[bytes, None]:
    error: BaseException | None = None
    try:
        async with aclosing(parts) as items:
            if frame is None:
                async for part in items:
                    yield part
            else:
                async for part in items:
                    yield frame(part)
    except GatewayError as exc:
        error = exc
        yield error_frame(exc)
    except BaseException as exc:
        error = exc
        raise
    finally:
        exchange.close(error)


class ExchangeStream(StreamingResponse):
    """A stream whose exchange is closed even when the body iterator never starts (client
    gone before the first byte)."""

    def __init__(
        self,
        content: AsyncGenerator[bytes, None],
        exchange: Exchange,
        media_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self.exchange = exchange

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.exchange.close(ClientGoneError())


async def _cancel_on_disconnect(request: Request, task: asyncio.Task[Any]) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    task.cancel(ClientGoneError.__name__)


async def until_disconnect(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """Runs `work` in this task, cancelling it (and so its upstream request) if the client
    leaves; then raises ClientGoneError. One watcher task, no second task for `work`."""
    current = asyncio.current_task()
    if current is None:
        raise RuntimeError("until_disconnect runs inside a task")
    watcher = asyncio.create_task(_cancel_on_disconnect(request, current))
    try:
        return await work
    except asyncio.CancelledError:
        if watcher.done() and not watcher.cancelled():
            current.uncancel()
            raise ClientGoneError() from None
        raise
    finally:
        watcher.cancel()
