"""Hugging Face TGI endpoints: /generate, /generate_stream (SSE), /info."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inference_gateway import lifecycle, proxy
from inference_gateway.apis import tgi as api
from inference_gateway.auth import Principal
from inference_gateway.deps import GatewayDep, PrincipalDep
from inference_gateway.errors import Api, GatewayError, error_payload
from inference_gateway.events import TextPipeline, Usage
from inference_gateway.gateway import Gateway
from inference_gateway.lifecycle import Exchange
from inference_gateway.model_facts import model_facts
from inference_gateway.posts import PostRoutes
from inference_gateway.schemas import TgiGenerateRequest

router = APIRouter(tags=["tgi"])
posts = PostRoutes("tgi")
VERSION = "3.3.0"
PATH = "/v1/completions"


async def _run(
    exchange: Exchange, params: dict[str, Any], prompt: str, stream: bool
) -> AsyncGenerator[dict[str, Any], None]:
    pipeline = TextPipeline(split_think=False, stops=api.stops_of(params))
    finish: str | None = None
    usage: Usage | None = None
    text: list[str] = []
    index = 0
    async with aclosing(exchange.events()) as events:
        async for event in events:
            finish = event.finish_reason or finish
            usage = event.usage or usage
            for _, piece in pipeline.feed(event):
                text.append(piece)
                index += 1
                if stream:
                    yield api.stream_token(index, piece)
            if pipeline.stop_sequence is not None:
                break  # closing the stream stops the replica's generation
    for _, piece in pipeline.flush():
        text.append(piece)
        index += 1
        if stream:
            yield api.stream_token(index, piece)
    exchange.tokens = usage.completion_tokens if usage else index
    generation = api.Generation(
        text="".join(text),
        params=params,
        prompt=prompt,
        reason=api.finish_reason(finish, pipeline.stop_sequence),
        usage=usage,
        tokens=index,
    )
    yield api.stream_final(index + 1, generation) if stream else api.generate_response(generation)


def _event(obj: dict[str, Any]) -> bytes:
    return b"data:" + proxy.dumps(obj) + b"\n\n"


def _error_event(exc: GatewayError) -> bytes:
    return _event(error_payload(Api.TGI, exc))


async def _respond(
    request: Request, gw: Gateway, principal: Principal, body: TgiGenerateRequest, stream: bool
) -> Response:
    raw = body.model_dump(exclude_unset=True)
    route = gw.resolve(principal, raw.get("model"))
    params = api.parameters_of(raw)
    api.stops_of(params)
    upstream = api.completion_request(raw, route.model)
    exchange = Exchange(gw, route, "tgi", principal.subject, PATH, upstream)
    objects = _run(exchange, params, body.inputs, stream)
    if stream:
        return await lifecycle.stream(
            exchange, objects, _error_event, "text/event-stream", frame=_event
        )
    return await lifecycle.whole(request, exchange, proxy.last_of(objects))


@posts.post("/generate")
async def tgi_generate(
    body: TgiGenerateRequest, request: Request, gw: Gateway, principal: Principal
) -> Response:
    return await _respond(request, gw, principal, body, stream=body.stream)


@posts.post("/")
async def tgi_compat_generate(
    body: TgiGenerateRequest, request: Request, gw: Gateway, principal: Principal
) -> Response:
    """TGI's compat route (what huggingface_hub's InferenceClient posts to): generate, or
    generate_stream when `stream` is true."""
    return await _respond(request, gw, principal, body, stream=body.stream)


@posts.post("/generate_stream")
async def tgi_generate_stream(
    body: TgiGenerateRequest, request: Request, gw: Gateway, principal: Principal
) -> Response:
    return await _respond(request, gw, principal, body, stream=True)


@router.get("/info")
async def tgi_info(gw: GatewayDep, principal: PrincipalDep) -> dict[str, Any]:
    route = gw.resolve(principal, None)
    facts = await model_facts(gw, route.serve)
    return api.info(route.model, facts.context_length if facts else None, VERSION)
