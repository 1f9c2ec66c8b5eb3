"""Ollama endpoints: /api/generate, /api/chat (NDJSON streams), /api/tags, /api/show,
/api/ps, /api/version."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from inference_gateway import lifecycle, proxy
from inference_gateway.apis import ollama as api
from inference_gateway.auth import Principal
from inference_gateway.deps import GatewayDep, PrincipalDep
from inference_gateway.errors import Api, GatewayError, Kind, error_payload
from inference_gateway.events import TextPipeline, Usage
from inference_gateway.gateway import Gateway, Route
from inference_gateway.lifecycle import Exchange
from inference_gateway.model_facts import model_facts
from inference_gateway.posts import PostRoutes
from inference_gateway.schemas import OllamaChatRequest, OllamaGenerateRequest, OllamaShowRequest

router = APIRouter(tags=["ollama"])
posts = PostRoutes("ollama")
NDJSON = "application/x-ndjson"


async def _run(
    exchange: Exchange, encoder: api.OllamaEncoder, stream: bool
) -> AsyncGenerator[dict[str, Any], None]:
    """Ollama objects: chunks while streaming, then the final one (or only the whole)."""
    started = time.monotonic()
    pipeline = TextPipeline(split_think=encoder.think)
    finish: str | None = None
    usage: Usage | None = None
    async with aclosing(exchange.events()) as events:
        async for event in events:
            finish = event.finish_reason or finish
            usage = event.usage or usage
            out = encoder.chunk(pipeline.feed(event))
            if out is not None and stream:
                yield out
    out = encoder.chunk(pipeline.flush())
    if out is not None and stream:
        yield out
    exchange.tokens = usage.completion_tokens if usage else None
    yield encoder.final(finish, usage, time.monotonic() - started, whole=not stream)


def _line(obj: dict[str, Any]) -> bytes:
    return proxy.dumps(obj) + b"\n"


def _error_line(exc: GatewayError) -> bytes:
    return _line(error_payload(Api.OLLAMA, exc))


async def _respond(
    request: Request,
    gw: Gateway,
    route: Route,
    path: str,
    body: dict[str, Any],
    encoder: api.OllamaEncoder,
    stream: bool,
    owner: str,
) -> Response:
    exchange = Exchange(gw, route, "ollama", owner, path, body)
    objects = _run(exchange, encoder, stream)
    if stream:
        return await lifecycle.stream(exchange, objects, _error_line, NDJSON, frame=_line)
    return await lifecycle.whole(request, exchange, proxy.last_of(objects))


def _check_ctx(body: dict[str, Any]) -> None:
    options = body.get("options") or {}
    num_ctx = options.get("num_ctx")
    if num_ctx is not None and (not isinstance(num_ctx, int) or num_ctx < 1):
        raise GatewayError(Kind.INVALID, "options.num_ctx must be a positive integer")


@posts.post("/api/generate")
async def ollama_generate(
    body: OllamaGenerateRequest, request: Request, gw: Gateway, principal: Principal
) -> Response:
    raw = body.model_dump(exclude_unset=True)
    _check_ctx(raw)
    route = gw.resolve(principal, raw.get("model"))
    path, upstream = api.generate_request(raw, route.model)
    encoder = api.OllamaEncoder(route.model, chat=False, think=bool(raw.get("think")))
    return await _respond(
        request, gw, route, path, upstream, encoder, body.stream, principal.subject
    )


@posts.post("/api/chat")
async def ollama_chat(
    body: OllamaChatRequest, request: Request, gw: Gateway, principal: Principal
) -> Response:
    raw = body.model_dump(exclude_unset=True)
    _check_ctx(raw)
    route = gw.resolve(principal, raw.get("model"))
    upstream = api.chat_request(raw, route.model)
    encoder = api.OllamaEncoder(route.model, chat=True, think=bool(raw.get("think")))
    return await _respond(
        request,
        gw,
        route,
        "/v1/chat/completions",
        upstream,
        encoder,
        body.stream,
        principal.subject,
    )


@router.get("/api/tags")
async def ollama_tags(gw: GatewayDep, principal: PrincipalDep) -> dict[str, Any]:
    return {
        "models": [
            api.tag_entry(s.model, s.size_bytes, None, s.created, None)
            for s in gw.visible(principal)
        ]
    }


@router.get("/api/ps")
async def ollama_ps(gw: GatewayDep, principal: PrincipalDep) -> dict[str, Any]:
    return {
        "models": [
            api.ps_entry(s.model, s.size_bytes, None, None, None)
            for s in gw.visible(principal)
            if gw.catalog.endpoints_of(s)
        ]
    }


@posts.post("/api/show")
async def ollama_show(
    body: OllamaShowRequest, request: Request, gw: Gateway, principal: Principal
) -> Response:
    name = body.model or body.name
    if not name:
        raise GatewayError(Kind.INVALID, "model is required")
    serves = gw.pool(principal, name)
    facts = await model_facts(gw, serves[0])
    return JSONResponse(api.show_response(facts, serves[0].created))


@router.get("/api/version")
async def ollama_version() -> dict[str, str]:
    return {"version": api.VERSION}
