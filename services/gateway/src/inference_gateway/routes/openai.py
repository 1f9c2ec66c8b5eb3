"""OpenAI / vLLM endpoints: /v1/chat/completions, /v1/completions, /v1/embeddings,
/v1/models."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from inference_gateway import proxy
from inference_gateway.apis import openai as api
from inference_gateway.deps import GatewayDep, PrincipalDep, request_id
from inference_gateway.errors import Api, GatewayError, Kind, error_payload
from inference_gateway.gateway import Gateway, Route
from inference_gateway.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from inference_gateway.tracking import Progress
from inference_gateway.upstream import UpstreamTransportError

router = APIRouter(tags=["openai"])

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def _stream(
    gw: Gateway,
    route: Route,
    path: str,
    body: dict[str, Any],
    progress: Progress,
    rewriter: api.ChunkRewriter,
    first: Any,
) -> AsyncGenerator[bytes, None]:
    error: BaseException | None = None
    tokens: int | None = None
    try:
        async with aclosing(proxy.chunks(gw, route, path, body, progress, first)) as items:
            async for chunk in items:
                usage = chunk.get("usage")
                if isinstance(usage, dict):
                    tokens = usage.get("completion_tokens")
                out = rewriter.rewrite(chunk)
                if out is not None:
                    yield b"data: " + proxy.dumps(out) + b"\n\n"
        yield b"data: [DONE]\n\n"
    except GatewayError as exc:
        error = exc
        yield b"data: " + proxy.dumps(error_payload(Api.OPENAI, exc)) + b"\n\n"
    except BaseException as exc:
        error = exc
        raise
    finally:
        proxy.finish(progress, error, tokens)


async def _plain(
    gw: Gateway, route: Route, path: str, body: dict[str, Any], progress: Progress
) -> dict[str, Any]:
    call = await proxy.open_call(gw, route, path, body, progress)
    failed = True
    try:
        raw = await call.read()
        failed = False
    except UpstreamTransportError as exc:
        raise GatewayError(Kind.UPSTREAM, "the model server failed during the response") from exc
    finally:
        gw.upstream.finish(call, failed=failed)
    try:
        doc: dict[str, Any] = json.loads(raw)
    except ValueError as exc:
        raise GatewayError(Kind.UPSTREAM, "the model server sent a malformed answer") from exc
    return doc


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
    progress = gw.tracker.start(request_id(), "openai", route.model, owner)
    if stream:
        try:
            first = await proxy.open_call(gw, route, path, body, progress)
        except BaseException as exc:
            proxy.finish(progress, exc)
            raise
        rewriter = api.ChunkRewriter(route.model, separate, api.wants_usage(raw_body), chat)
        return proxy.GuardedStreamingResponse(
            _stream(gw, route, path, body, progress, rewriter, first),
            gw,
            first,
            progress,
            "text/event-stream",
            SSE_HEADERS,
        )
    error: BaseException | None = None
    tokens: int | None = None
    try:
        doc = await proxy.until_disconnect(request, _plain(gw, route, path, body, progress))
        usage = doc.get("usage")
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        out = (
            api.chat_response(doc, route.model, separate)
            if chat
            else api.completion_response(doc, route.model)
        )
        return JSONResponse(out)
    except BaseException as exc:
        error = exc
        raise
    finally:
        proxy.finish(progress, error, tokens)


@router.post("/v1/chat/completions")
async def create_chat_completion(
    body: ChatCompletionRequest, request: Request, gw: GatewayDep, principal: PrincipalDep
) -> Response:
    raw = body.model_dump(exclude_unset=True)
    route = gw.resolve(principal, raw.get("model"))
    return await _generate(
        request, gw, route, "/v1/chat/completions", raw, chat=True, owner=principal.subject
    )


@router.post("/v1/completions")
async def create_completion(
    body: CompletionRequest, request: Request, gw: GatewayDep, principal: PrincipalDep
) -> Response:
    raw = body.model_dump(exclude_unset=True)
    route = gw.resolve(principal, raw.get("model"))
    return await _generate(
        request, gw, route, "/v1/completions", raw, chat=False, owner=principal.subject
    )


@router.post("/v1/embeddings")
async def create_embedding(
    body: EmbeddingRequest, request: Request, gw: GatewayDep, principal: PrincipalDep
) -> Response:
    raw = body.model_dump(exclude_unset=True)
    route = gw.resolve(principal, raw.get("model"))
    raw["model"] = route.model
    progress = gw.tracker.start(request_id(), "openai", route.model, principal.subject)
    error: BaseException | None = None
    try:
        try:
            doc = await proxy.until_disconnect(
                request, _plain(gw, route, "/v1/embeddings", raw, progress)
            )
        except GatewayError as exc:
            if exc.kind is Kind.NOT_SUPPORTED or "embedding" in exc.message.lower():
                raise api.embeddings_unsupported(route.model) from exc
            raise
        doc["model"] = route.model
        return JSONResponse(doc)
    except BaseException as exc:
        error = exc
        raise
    finally:
        proxy.finish(progress, error)


@router.get("/v1/models")
async def list_models(gw: GatewayDep, principal: PrincipalDep) -> dict[str, Any]:
    return api.models_list([(s.model, s.created) for s in gw.visible(principal)])
