"""The application factory: settings in, FastAPI app out; resources live in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from datetime import timedelta

import httpx
from fastapi import FastAPI

from inference_api.accounts import Authenticator, ensure_admin
from inference_api.alert_log import AlertLog
from inference_api.bodyauth import AuthBeforeBodyMiddleware
from inference_api.client_address import parse_networks
from inference_api.modelserve_client import ModelServeClient
from inference_api.node_gpus import NodeGpuReader
from inference_api.policy import ContractServePolicy, ServePolicy, contract_client
from inference_api.ratelimit import Backoff, LoginRateLimiter
from inference_api.registry import Registry
from inference_api.routes import (
    api_keys,
    auth,
    health,
    metrics,
    models,
    nodes,
    observability,
    server_story,
    servers,
    users,
)
from inference_api.serving import Placement, Serving
from inference_api.settings import ApiSettings
from inference_api.state import AppState
from inference_api.upload import UploadLimits
from inference_api.watcher import ModelServeWatcher
from inference_common.db import unit_of_work
from inference_common.kube import api_client
from inference_common.lifespan import open_database, services_lifespan
from inference_common.modelserve import Toleration
from inference_common.s3 import ensure_bucket, minio_client
from inference_common.s3_multipart import S3Location, s3_client
from inference_common.web import BodyLimit, install_common, operation_id

SERVICE = "inference-api"

logger = logging.getLogger(__name__)


def placement(settings: ApiSettings) -> Placement:
    """Scheduling for new ModelServes; invalid settings stop start-up here."""
    tolerations = [Toleration.model_validate(t) for t in settings.serve_tolerations or []]
    return Placement(settings.serve_node_selector, tolerations or None)


def body_limit(settings: ApiSettings) -> BodyLimit:
    """An upload may be as large as MAX_UPLOAD_BYTES; every other body (JSON, login forms)
    MAX_REQUEST_BODY_BYTES."""

    def limit_for(method: str, path: str) -> int:
        if method == "POST" and path.rstrip("/") == models.UPLOAD_PATH:
            return settings.max_upload_bytes
        return settings.max_request_body_bytes

    return limit_for


async def build_state(settings: ApiSettings, policy: ServePolicy | None = None) -> AppState:
    engine, sessions = await open_database(
        settings.database_url, migrate=settings.run_migrations, pool_size=10
    )
    s3 = minio_client(settings)
    resources = AsyncExitStack()
    # uploads stream through the platform's one multipart path (botocore in worker threads)
    uploads = await resources.enter_async_context(
        s3_client(S3Location.of(settings), max_connections=4 * settings.upload_parallel_parts)
    )
    try:
        await asyncio.to_thread(ensure_bucket, s3, settings.models_bucket)
    except Exception:  # MinIO down at start: /health reports it, uploads fail with 503
        logger.warning("could not check the models bucket", exc_info=True)
    kube = api_client(settings.kubeconfig)
    modelserves = ModelServeClient(kube)
    signer = settings.token_signer(timedelta(minutes=settings.jwt_ttl_minutes))
    limiter = LoginRateLimiter(
        Backoff(
            free_failures=settings.login_max_failures,
            max_delay=settings.login_backoff_max_seconds,
            forget_after=settings.login_failures_forget_seconds,
        ),
        settings.login_max_attempts_per_address,
        settings.login_window_seconds,
    )
    contract_http = contract_client(settings.contract_url, settings.contract_timeout_seconds)
    return AppState(
        settings=settings,
        contract_http=contract_http,
        engine=engine,
        sessions=sessions,
        s3=s3,
        kube=kube,
        modelserves=modelserves,
        authenticator=Authenticator(signer, limiter, parse_networks(settings.trusted_proxies)),
        resources=resources,
        registry=Registry(
            s3=s3,
            uploads=uploads,
            bucket=settings.models_bucket,
            sessions=sessions,
            limits=UploadLimits(
                max_bytes=settings.max_upload_bytes,
                part_bytes=settings.upload_part_bytes,
                parallel_parts=settings.upload_parallel_parts,
                max_header_bytes=settings.max_gguf_header_bytes,
                max_seconds=settings.upload_max_seconds,
                idle_seconds=settings.upload_idle_seconds,
            ),
            default_namespaces=tuple(settings.allowed_namespaces),
        ),
        serving=Serving(
            modelserves=modelserves,
            nodes=NodeGpuReader(kube),
            policy=policy or ContractServePolicy(contract_http, signer),
            bucket=settings.models_bucket,
            default_namespace=settings.servers_namespace,
            placement=placement(settings),
            server_uuid_key=settings.server_uuid_key.get_secret_value(),
            allowed_namespaces=tuple(settings.allowed_namespaces),
        ),
        alerts=AlertLog(settings.recent_alerts),
        prometheus=httpx.AsyncClient(timeout=settings.prometheus_timeout_seconds),
    )


async def close_state(state: AppState) -> None:
    if state.watcher is not None:
        await state.watcher.stop()
    await state.contract_http.aclose()
    await state.engine.dispose()
    await state.prometheus.aclose()
    state.kube.close()
    await state.resources.aclose()


def create_app(
    settings: ApiSettings | None = None,
    policy: ServePolicy | None = None,
    *,
    freeze_gc: bool = False,
) -> FastAPI:
    """`freeze_gc`: for the server process (`main`), which runs one app for its lifetime."""
    settings = settings or ApiSettings()

    async def start(state: AppState) -> None:
        if settings.admin_password is not None:
            async with unit_of_work(state.sessions) as session:
                await ensure_admin(
                    session, settings.admin_username, settings.admin_password.get_secret_value()
                )
        else:
            logger.warning("ADMIN_PASSWORD is not set (dev mode): no admin is created")
        if settings.watch_modelserves:
            state.watcher = ModelServeWatcher(state.modelserves, state.sessions)
            state.watcher.start()

    lifespan = services_lifespan(
        lambda: build_state(settings, policy), close_state, start=start, freeze_gc=freeze_gc
    )

    app = FastAPI(
        title="Inference Service API",
        version="0.1.0",
        description="Control plane: login, users, API keys, model registry, serve / stop / status.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.add_middleware(AuthBeforeBodyMiddleware)  # inside the body limit and request context
    install_common(app, SERVICE, body_limit=body_limit(settings))
    for router in (
        health.router,
        auth.router,
        users.router,
        api_keys.router,
        models.router,
        servers.router,
        server_story.router,
        nodes.router,
        observability.router,
        metrics.router,
    ):
        app.include_router(router)
    return app
