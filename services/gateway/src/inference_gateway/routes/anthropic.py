"""Anthropic Messages endpoint: /v1/messages (JSON or the SSE event sequence)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from inference_gateway import lifecycle
from inference_gateway.apis import anthropic as api
from inference_gateway.auth import Principal
from inference_gateway.events import TextPipeline, Usage
from inference_gateway.gateway import Gateway
from inference_gateway.lifecycle import Exchange
from inference_gateway.posts import PostRoutes
from inference_gateway.reasoning import Piece
from inference_gateway.schemas import MessagesRequest

posts = PostRoutes("anthropic")
PATH = "/v1/chat/completions"


async def _stream(
    exchange: Exchange, stops: list[str], encoder: api.AnthropicStream
) -> AsyncGenerator[bytes, None]:
    pipeline = TextPipeline(split_think=encoder.separate, stops=stops)
    finish: str | None = None
    usage: Usage | None = None
    yield encoder.start()
    async with aclosing(exchange.events()) as events:
        async for event in events:
            finish = event.finish_reason or finish
            usage = event.usage or usage
            for chunk in encoder.pieces(pipeline.feed(event)):
                yield chunk
            if pipeline.stop_sequence is not None:
                break
    for chunk in encoder.pieces(pipeline.flush()):
        yield chunk
    exchange.tokens = usage.completion_tokens if usage else None
    for chunk in encoder.finish(finish, pipeline.stop_sequence, usage):
        yield chunk


async def _whole(
    exchange: Exchange, stops: list[str], separate: bool, message_id: str
) -> dict[str, Any]:
    pipeline = TextPipeline(split_think=separate, stops=stops)
    finish: str | None = None
    usage: Usage | None = None
    pieces: list[Piece] = []
    async with aclosing(exchange.events()) as events:
        async for event in events:
            finish = event.finish_reason or finish
            usage = event.usage or usage
            pieces += pipeline.feed(event)
            if pipeline.stop_sequence is not None:
                break
    pieces += pipeline.flush()
    exchange.tokens = usage.completion_tokens if usage else None
    return api.message_response(
        message_id,
        exchange.route.model,
        pieces,
        separate,
        finish,
        pipeline.stop_sequence,
        usage,
    )


@posts.post("/v1/messages")
async def create_message(
    body: MessagesRequest, request: Request, gw: Gateway, principal: Principal
) -> Response:
    raw = body.model_dump(exclude_unset=True)
    route = gw.resolve(principal, body.model)
    separate = api.thinking_separated(raw, gw.settings.reasoning)
    upstream = api.chat_request(raw, route.model)
    stops = list(body.stop_sequences or [])
    message_id = f"msg_{secrets.token_hex(12)}"
    exchange = Exchange(gw, route, "anthropic", principal.subject, PATH, upstream)
    if body.stream:
        encoder = api.AnthropicStream(message_id, route.model, separate)
        return await lifecycle.stream(
            exchange,
            _stream(exchange, stops, encoder),
            lambda exc: encoder.error(exc.message),
            "text/event-stream",
        )
    return await lifecycle.whole(request, exchange, _whole(exchange, stops, separate, message_id))
