"""What the app holds for its lifetime (built in the lifespan, read by dependencies)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
from kubernetes import client
from minio import Minio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from inference_api.accounts import Authenticator
from inference_api.alert_log import AlertLog
from inference_api.modelserve_client import ModelServeClient
from inference_api.registry import Registry
from inference_api.serving import Serving
from inference_api.settings import ApiSettings
from inference_api.watcher import ModelServeWatcher


@dataclass
class AppState:
    settings: ApiSettings
    contract_http: httpx.AsyncClient
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    s3: Minio
    kube: client.ApiClient
    modelserves: ModelServeClient
    authenticator: Authenticator
    registry: Registry
    serving: Serving
    resources: AsyncExitStack  # the upload client (closed with the app)
    alerts: AlertLog
    prometheus: httpx.AsyncClient
    """For GET /health/score (its timeout is `prometheus_timeout_seconds`)."""
    watcher: ModelServeWatcher | None = None
