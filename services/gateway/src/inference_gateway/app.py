"""The gateway application: wiring of state, routers, error rendering and lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import aiohttp
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from kubernetes import client

from inference_common.auth import TokenSigner
from inference_common.db import make_engine, make_sessionmaker
from inference_common.kube import api_client
from inference_common.logging import request_fields
from inference_common.outages import outage_of
from inference_common.web import (
    dependency_errors,
    install_common,
    operation_id,
    outage_log,
    unexpected_error_response,
)
from inference_gateway.auth import Authenticator
from inference_gateway.balancer import Balancer
from inference_gateway.catalog import Catalog
from inference_gateway.errors import (
    Api,
    GatewayError,
    Kind,
    api_of_path,
    dependency_outage,
    error_payload,
)
from inference_gateway.gateway import Gateway
from inference_gateway.lifecycle import ClientGoneError
from inference_gateway.posts import described_routes, post_routes
from inference_gateway.rategate import RateGate
from inference_gateway.ratelimit import Limiter, RateLimits
from inference_gateway.ratestore import RateStore
from inference_gateway.routes import anthropic, authz, ollama, openai, progress, tgi
from inference_gateway.settings import GatewaySettings
from inference_gateway.tracking import ERRORS, REQUESTS, Tracker
from inference_gateway.upstream import Upstream, make_session
from inference_gateway.watch import CatalogWatcher

logger = logging.getLogger(__name__)
SERVICE = "gateway"


def _describe(app: FastAPI, described: list[APIRoute]) -> None:
    """The OpenAPI document with the POST endpoints, which are Starlette routes."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=[*described, *app.routes],
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _render(api: Api, error: GatewayError) -> JSONResponse:
    return JSONResponse(
        error_payload(api, error), status_code=error.status, headers=error.headers()
    )


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))


def _register_errors(app: FastAPI, metrics: bool) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        api = api_of_path(request.url.path)
        fields = request_fields()
        fields.setdefault("api", api.value)
        fields.setdefault("error", exc.kind.value)
        if (
            metrics
            and exc.kind
            in (
                Kind.UNAUTHENTICATED,
                Kind.FORBIDDEN,
                Kind.NOT_FOUND,
                Kind.INVALID,
                Kind.UNAVAILABLE,
                Kind.RATE_LIMITED,
            )
            and request.method == "POST"
        ):
            REQUESTS.labels(api.value, "-", str(exc.status)).inc()
            ERRORS.labels(api.value, "-", exc.kind.value).inc()
        return _render(api, exc)

    common_validation = app.exception_handlers[RequestValidationError]

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        api = api_of_path(request.url.path)
        if api is Api.PLATFORM:
            response: Response = await common_validation(request, exc)  # type: ignore[misc]
            return response
        status = 422 if api is Api.TGI else 400
        return _render(api, GatewayError(Kind.INVALID, _validation_message(exc), status=status))

    async def dependency_error(request: Request, exc: Exception) -> Response:
        """An outage (the database, mostly) is 503 naming it in the caller's API's shape;
        anything else is the platform's 500, as in every service."""
        dependency = outage_of(exc)
        if dependency is None:
            return unexpected_error_response(exc)
        outage_log.report(dependency, exc)
        return _render(api_of_path(request.url.path), dependency_outage(dependency))

    for error in dependency_errors():
        app.add_exception_handler(error, dependency_error)

    @app.exception_handler(ClientGoneError)
    async def client_gone(_: Request, __: ClientGoneError) -> Response:
        return Response(status_code=499)


def build_gateway(settings: GatewaySettings, http: aiohttp.ClientSession) -> Gateway:
    catalog = Catalog()
    balancer = Balancer()
    sessions = (
        make_sessionmaker(make_engine(settings.database_url)) if settings.database_url else None
    )
    secret = settings.jwt_secret.get_secret_value()
    auth = Authenticator(
        TokenSigner(secret, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
        if secret
        else None,
        sessions,
        settings.allow_anonymous,
        settings.auth_cache_seconds,
        default_namespaces=settings.allowed_namespaces,
    )
    holder: dict[str, Gateway] = {}
    upstream = Upstream(
        http,
        balancer,
        lambda: holder["gw"].present_replicas(),
        retry_after=settings.retry_after_seconds,
    )
    rates = (
        RateGate(
            Limiter(settings.rate_limit_window_seconds),
            RateLimits(
                settings.rate_limit_requests_per_minute,
                settings.rate_limit_tokens_per_minute,
                settings.rate_limit_concurrent_requests,
            ),
        )
        if settings.rate_limits and sessions is not None
        else None
    )
    gateway = Gateway(
        settings,
        catalog,
        balancer,
        upstream,
        auth,
        Tracker(metrics=settings.metrics),
        sessions,
        rates,
    )
    holder["gw"] = gateway
    return gateway


def create_app(
    settings: GatewaySettings, kube: client.ApiClient | None = None, watch: bool = True
) -> FastAPI:
    """`kube`: the Kubernetes client to watch with (default: from settings.kubeconfig).
    watch=False leaves the catalog to the caller (tests of pure routing)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        http = make_session(
            settings.connect_timeout, settings.read_timeout, settings.max_connections
        )
        gateway = build_gateway(settings, http)
        app.state.gateway = gateway
        watcher: CatalogWatcher | None = None
        own_kube: client.ApiClient | None = None
        if watch:
            api = kube
            if api is None:
                own_kube = api = await asyncio.to_thread(api_client, settings.kubeconfig)
            watcher = CatalogWatcher(
                api,
                gateway.catalog,
                settings.watch_namespace,
                settings.upstream_cidrs,
                gateway.on_catalog_change,
                settings.server_uuid_key.get_secret_value(),
            )
            watcher.start()
        app.state.watcher = watcher
        store: RateStore | None = None
        if gateway.rates is not None and gateway.sessions is not None:
            store = RateStore(gateway.rates.limiter, gateway.sessions, settings.rate_sync_seconds)
            store.start()
        try:
            yield
        finally:
            if store is not None:
                await store.stop()
            if watcher is not None:
                await watcher.stop()
            await gateway.upstream.aclose()
            await http.close()
            if gateway.sessions is not None:
                with suppress(Exception):
                    await gateway.sessions.kw["bind"].dispose()
            if own_kube is not None:
                own_kube.close()

    app = FastAPI(
        title="Inference gateway",
        version="0.1.0",
        description="One endpoint speaking OpenAI/vLLM, Ollama, Hugging Face TGI and "
        "Anthropic, routed by model name to ready llama.cpp replicas.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    posts = [p for module in (openai, ollama, tgi, anthropic) for p in module.posts.posts]
    app.router.routes[0:0] = post_routes(posts, settings.max_body_bytes)
    for module in (openai, ollama, tgi, progress, authz):
        app.include_router(module.router)
    _describe(app, described_routes(posts))
    install_common(app, SERVICE, metrics=settings.metrics, access_log=True)
    _register_errors(app, settings.metrics)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        """Ready once the first list of ModelServes and EndpointSlices is in."""
        watcher: CatalogWatcher | None = app.state.watcher
        synced = watcher is None or (
            watcher.serves_synced.is_set() and watcher.slices_synced.is_set()
        )
        return JSONResponse(
            {"status": "ready" if synced else "syncing"}, status_code=200 if synced else 503
        )

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return Response("Ollama is running", media_type="text/plain")

    return app
