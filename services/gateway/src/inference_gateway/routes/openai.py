"""OpenAI / vLLM endpoints: /v1/chat/completions, /v1/completions, /v1/embeddings,
/v1/models."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inference_gateway import lifecycle, proxy
from inference_gateway.apis import openai as api
from inference_gateway.auth import Principal
from inference_gateway.deps import GatewayDep, PrincipalDep
from inference_gateway.errors import Api, GatewayError, Kind, error_payload
from inference_gateway.gateway import Gateway, Route
from inference_gateway.lifecycle import Exchange
from inference_gateway.posts import PostRoutes
from inference_gateway.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest

router = APIRouter(tags=["openai"])
posts = PostRoutes("openai")

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
SSE = "text/event-stream"


async def _stream(exchange: Exchange, rewriter: api.ChunkRewriter) -> AsyncGenerator[bytes, None]:
    async with aclosing(exchange.chunks()) as items:
        async for chunk in items:
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                exchange.tokens = usage.get("completion_tokens")
            out = rewriter.rewrite(chunk)
            if out is not None:
                yield b"data: " + proxy.dumps(out) + b"\n\n"
    yield b"data: [DONE]\n\n"


def _error_frame(exc: GatewayError) -> bytes:
    return b"data: " + proxy.dumps(error_payload(Api.OPENAI, exc)) + b"\n\n"


async def _whole(exchange: Exchange, chat: bool, separate: bool) -> dict[str, Any]:
    doc = await exchange.read_json()
    usage = doc.get("usage")
    exchange.tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    model = exchange.route.model
    return api.chat_response(doc, model, separate) if chat else api.completion_response(doc, model)


async def _generate(
    request: Request,
    gw: Gateway,
    route: Route,
    path: str,
    raw_body: dict[str, Any],
    chat: bool,
    owner: str,
) -> Response:
    stream = bool(raw_body.get("stream"))
    separate = api.reasoning_separated(raw_body, gw.settings.reasoning) if chat else False
    body = api.upstream_body(raw_body, stream)
    body["model"] = route.model
    if not chat:
        body.pop("reasoning_format", None)
    exchange = Exchange(gw, route, "openai", owner, path, body)
    if stream:
        rewriter = api.ChunkRewriter(route.model, separate, api.wants_usage(raw_body), chat)
        return await lifecycle.stream(
            exchange, _stream(exchange, rewriter), _error_frame, SSE, SSE_HEADERS
        )
    return await lifecycle.whole(request, exchange, _whole(exchange, chat, separate))


async def _embeddings(exchange: Exchange) -> dict[str, Any]:
    model = exchange.route.model
    try:
        doc = await exchange.read_json()
    except GatewayError as exc:
        if exc.kind is Kind.NOT_SUPPORTED or "embedding" in exc.message.lower():
            raise api.embeddings_unsupported(model) from exc
        raise
    doc["model"] = model
    return doc


@posts.post("/v1/chat/completions")
async def create_chat_completion(
    body: ChatCompletionRequest, request: Request, gw: Gateway, principal: Principal
) -> Response:
    raw = body.model_dump(exclude_unset=True)
    route = gw.resolve(principal, raw.get("model"))
    return await _generate(
        request, gw, route, "/v1/chat/completions", raw, chat=True, owner=principal.subject
    )


@posts.post("/v1/completions")
async def create_completion(
    body: CompletionRequest, request: Request, gw: Gateway, principal: Principal
) -> Response:
    raw = body.model_dump(exclude_unset=True)
    route = gw.resolve(principal, raw.get("model"))
    return await _generate(
        request, gw, route, "/v1/completions", raw, chat=False, owner=principal.subject
    )


@posts.post("/v1/embeddings")
async def create_embedding(
    body: EmbeddingRequest, request: Request, gw: Gateway, principal: Principal
) -> Response:
    raw = body.model_dump(exclude_unset=True)
    route = gw.resolve(principal, raw.get("model"))
    raw["model"] = route.model
    exchange = Exchange(gw, route, "openai", principal.subject, "/v1/embeddings", raw)
    return await lifecycle.whole(request, exchange, _embeddings(exchange))


@router.get("/v1/models")
async def list_models(gw: GatewayDep, principal: PrincipalDep) -> dict[str, Any]:
    return api.models_list([(s.model, s.created) for s in gw.visible(principal)])
