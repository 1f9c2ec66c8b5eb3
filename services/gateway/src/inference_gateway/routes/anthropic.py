"""Anthropic Messages endpoint: /v1/messages (JSON or the SSE event sequence)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from inference_gateway import proxy
from inference_gateway.apis import anthropic as api
from inference_gateway.deps import GatewayDep, PrincipalDep, request_id
from inference_gateway.errors import GatewayError
from inference_gateway.events import TextPipeline, Usage
from inference_gateway.gateway import Gateway, Route
from inference_gateway.reasoning import Piece
from inference_gateway.schemas import MessagesRequest
from inference_gateway.tracking import Progress
from inference_gateway.upstream import UpstreamCall

router = APIRouter(tags=["anthropic"])
PATH = "/v1/chat/completions"


async def _stream(
    gw: Gateway,
    route: Route,
    body: dict[str, Any],
    stops: list[str],
    encoder: api.AnthropicStream,
    progress: Progress,
    first: UpstreamCall,
) -> AsyncGenerator[bytes, None]:
    pipeline = TextPipeline(split_think=encoder.separate, stops=stops)
    finish: str | None = None
    usage: Usage | None = None
    error: BaseException | None = None
    try:
        yield encoder.start()
        async with aclosing(proxy.events(gw, route, PATH, body, progress, first)) as events:
            async for event in events:
                finish = event.finish_reason or finish
                usage = event.usage or usage
                for chunk in encoder.pieces(pipeline.feed(event)):
                    yield chunk
                if pipeline.stop_sequence is not None:
                    break
        for chunk in encoder.pieces(pipeline.flush()):
            yield chunk
        for chunk in encoder.finish(finish, pipeline.stop_sequence, usage):
            yield chunk
    except GatewayError as exc:
        error = exc
        yield encoder.error(exc.message)
    except BaseException as exc:
        error = exc
        raise
    finally:
        proxy.finish(progress, error, usage.completion_tokens if usage else None)


async def _whole(
    gw: Gateway,
    route: Route,
    body: dict[str, Any],
    stops: list[str],
    separate: bool,
    progress: Progress,
    first: UpstreamCall,
    message_id: str,
) -> dict[str, Any]:
    pipeline = TextPipeline(split_think=separate, stops=stops)
    finish: str | None = None
    usage: Usage | None = None
    pieces: list[Piece] = []
    error: BaseException | None = None
    try:
        async with aclosing(proxy.events(gw, route, PATH, body, progress, first)) as events:
            async for event in events:
                finish = event.finish_reason or finish
                usage = event.usage or usage
                pieces += pipeline.feed(event)
                if pipeline.stop_sequence is not None:
                    break
        pieces += pipeline.flush()
        return api.message_response(
            message_id, route.model, pieces, separate, finish, pipeline.stop_sequence, usage
        )
    except BaseException as exc:
        error = exc
        raise
    finally:
        proxy.finish(progress, error, usage.completion_tokens if usage else None)


@router.post("/v1/messages", response_model=None)
async def create_message(
    body: MessagesRequest, request: Request, gw: GatewayDep, principal: PrincipalDep
) -> Response:
    raw = body.model_dump(exclude_unset=True)
    route = gw.resolve(principal, body.model)
    separate = api.thinking_separated(raw, gw.settings.reasoning)
    upstream = api.chat_request(raw, route.model)
    stops = list(body.stop_sequences or [])
    message_id = f"msg_{secrets.token_hex(12)}"
    progress = gw.tracker.start(request_id(), "anthropic", route.model, principal.subject)
    try:
        first = await proxy.open_call(gw, route, PATH, upstream, progress)
    except BaseException as exc:
        proxy.finish(progress, exc)
        raise
    if body.stream:
        encoder = api.AnthropicStream(message_id, route.model, separate)
        return proxy.GuardedStreamingResponse(
            _stream(gw, route, upstream, stops, encoder, progress, first),
            gw,
            first,
            progress,
            "text/event-stream",
        )
    try:
        return JSONResponse(
            await proxy.until_disconnect(
                request,
                _whole(gw, route, upstream, stops, separate, progress, first, message_id),
            )
        )
    finally:
        proxy.release(gw, first, progress)
