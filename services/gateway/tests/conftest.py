"""Fixtures for the gateway's end-to-end tests: real llama.cpp replicas (the embedded model
through `inference_localstack.llama_server`) in test-host network namespaces, the CRD, and
the gateway in-process with its watches on the test's namespace."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import uvicorn
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from sqlalchemy.pool import NullPool

from inference_common.auth import TokenSigner, generate_api_key
from inference_common.db import make_engine, make_sessionmaker, unit_of_work
from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_common.tables import ApiKey, User
from inference_gateway.app import create_app
from inference_gateway.gateway import Gateway
from inference_gateway.settings import GatewaySettings
from inference_localstack import llama_server
from inference_localstack.embedded_model import REGISTRY_NAME, embedded_model_path
from inference_testkit.hosts import NetnsHost, netns_host
from inference_testkit.servers import free_port, http_process
from inference_testkit.waiting import async_wait_for, wait_for

JWT_SECRET = "gateway-tests-" + secrets.token_hex(16)
LLAMA_PORT = 8080
MODEL = REGISTRY_NAME  # "smollm2:135m"


@dataclass
class Replica:
    host: NetnsHost
    url: str
    log: Path

    @property
    def ip(self) -> str:
        return self.host.ip


def start_replica(stack: ExitStack, log_dir: Path, *extra: str) -> Replica:
    """A llama.cpp server with the embedded model in a test host of its own."""
    host = stack.enter_context(netns_host())
    log = log_dir / f"llama-{host.ip}.log"
    host.spawn(replica_command(host.ip, *extra), log=log)
    return Replica(host, f"http://{host.ip}:{LLAMA_PORT}", log)


def replica_command(ip: str, *extra: str) -> list[str]:
    """A test replica's llama.cpp server: the embedded model, 4 slots, metrics on."""
    return llama_server.command(
        str(embedded_model_path()),
        ip,
        LLAMA_PORT,
        *("-c", "4096", "-np", "4", "-t", "1", "--metrics", "--no-webui", *extra),
    )


def wait_healthy(replica: Replica, timeout: float = 240) -> None:
    def healthy() -> bool:
        try:
            return httpx.get(replica.url + "/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout=timeout, interval=0.2, what=f"llama.cpp at {replica.url}")


@pytest.fixture(scope="session")
def replicas(
    stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Replica]]:
    """Two llama.cpp replicas, started once per test session."""
    log_dir = tmp_path_factory.mktemp("llama")
    with ExitStack() as stack:
        started = [start_replica(stack, log_dir), start_replica(stack, log_dir)]
        for replica in started:
            wait_healthy(replica)
        yield started


@dataclass
class Cluster:
    api: client.ApiClient
    namespace: str

    def serve(
        self,
        name: str,
        model: str,
        ips: list[str],
        size: int = 98_000_000,
        aliases: str | None = None,
        ready: bool = True,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A ModelServe, a selector-less Service and a hand-made EndpointSlice; returns the
        ModelServe as created."""
        meta: dict[str, Any] = {"name": name, "labels": labels or {}}
        meta["annotations"] = dict(annotations or {})
        if aliases:
            meta["annotations"]["inference-service.dev/aliases"] = aliases
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ModelServe",
            "metadata": meta,
            "spec": {
                "model": {
                    "name": model,
                    "source": {"pvc": {"claimName": "models", "path": "m.gguf"}},
                    "sizeBytes": size,
                },
                "replicas": len(ips),
            },
        }
        created: dict[str, Any] = client.CustomObjectsApi(self.api).create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, body
        )
        # When the stack's operator serves this namespace it makes the Service itself (its
        # pods never start: the PVC does not exist); either way the hand-made EndpointSlice
        # below is what routes to the test hosts.
        try:
            client.CoreV1Api(self.api).create_namespaced_service(
                self.namespace,
                client.V1Service(
                    metadata=client.V1ObjectMeta(name=name),
                    spec=client.V1ServiceSpec(
                        ports=[client.V1ServicePort(name="http", port=LLAMA_PORT)]
                    ),
                ),
            )
        except ApiException as exc:
            if exc.status != 409:
                raise
        self.set_endpoints(name, ips, ready=ready, create=True)
        return created

    def set_endpoints(
        self, name: str, ips: list[str], ready: bool = True, create: bool = False
    ) -> None:
        body = client.V1EndpointSlice(
            metadata=client.V1ObjectMeta(
                name=f"{name}-manual", labels={"kubernetes.io/service-name": name}
            ),
            address_type="IPv4",
            ports=[client.DiscoveryV1EndpointPort(name="http", port=LLAMA_PORT, protocol="TCP")],
            endpoints=[
                client.V1Endpoint(
                    addresses=[ip], conditions=client.V1EndpointConditions(ready=ready)
                )
                for ip in ips
            ],
        )
        discovery = client.DiscoveryV1Api(self.api)
        if create:
            discovery.create_namespaced_endpoint_slice(self.namespace, body)
        else:
            discovery.replace_namespaced_endpoint_slice(f"{name}-manual", self.namespace, body)


@pytest.fixture
def cluster(kube_api: client.ApiClient, namespace: str, crd: dict[str, Any]) -> Cluster:
    return Cluster(kube_api, namespace)


def make_settings(database_url: str, namespace: str, /, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "dev_mode": True,
        "database_url": database_url,
        "jwt_secret": JWT_SECRET,
        "GATEWAY_WATCH_NAMESPACE": namespace,
        "GATEWAY_UPSTREAM_CIDRS": "10.244.0.0/24",
        "GATEWAY_RETRY_AFTER_SECONDS": 3,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@dataclass
class RunningGateway:
    url: str
    client: httpx.AsyncClient
    state: Gateway
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def wait_routable(self, model: str, count: int = 1, within: float = 60) -> None:
        async def ready() -> bool:
            serves = self.state.catalog.find(model)
            return (
                bool(serves)
                and sum(len(self.state.catalog.endpoints_of(s)) for s in serves) >= count
            )

        await async_wait_for(ready, timeout=within, interval=0.05, what=f"{model} routable")


GatewayFactory = Callable[..., Any]


@pytest.fixture
async def gateway_factory(
    database_url: str, namespace: str, kube_api: client.ApiClient
) -> AsyncIterator[GatewayFactory]:
    """Starts the gateway in-process under uvicorn on 127.0.0.1 (a task of the test's event
    loop), watching the test namespace; official clients talk to it over real TCP."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
    clients: list[httpx.AsyncClient] = []

    async def start(**overrides: Any) -> RunningGateway:
        settings = make_settings(database_url, namespace, **overrides)
        app = create_app(settings, kube=kube_api)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
            )
        )
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        await async_wait_for(
            lambda: _started(server), timeout=90, interval=0.02, what="gateway started"
        )
        state: Gateway = app.state.gateway
        await asyncio.wait_for(app.state.watcher.wait_synced(), timeout=90)
        url = f"http://127.0.0.1:{port}"
        http = httpx.AsyncClient(base_url=url, timeout=120)
        clients.append(http)
        user_id = await create_user(database_url)
        token = TokenSigner(JWT_SECRET).issue(str(user_id), "t", "user")
        return RunningGateway(url, http, state, token)

    yield start
    for http in clients:
        await http.aclose()
    for server, task in servers:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


async def _started(server: uvicorn.Server) -> bool:
    return bool(server.started)


@pytest.fixture
async def gateway(
    gateway_factory: GatewayFactory, cluster: Cluster, replicas: list[Replica]
) -> RunningGateway:
    """The gateway with `smollm2:135m` served by replica 0."""
    cluster.serve("smol", MODEL, [replicas[0].ip], aliases="smol-alias")
    gw: RunningGateway = await gateway_factory()
    await gw.wait_routable(MODEL)
    return gw


async def create_user(database_url: str, active: bool = True) -> UUID:
    """A committed user (the gateway checks JWTs' users through its own sessions)."""
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as db:
            user = User(
                username=f"u-{secrets.token_hex(4)}",
                password_hash="x",
                role="user",
                is_active=active,
            )
            db.add(user)
            await db.flush()
            return user.id
    finally:
        await engine.dispose()


async def create_api_key(
    database_url: str,
    allowed_models: list[str] | None = None,
    revoked: bool = False,
    user_id: UUID | None = None,
    expires_at: datetime | None = None,
    rate_limits: dict[str, int] | None = None,
) -> str:
    """A committed API key (of a new user unless `user_id`), with `rate_limits` overrides
    (requests_per_minute, tokens_per_minute, concurrent_requests)."""
    owner = user_id or await create_user(database_url)
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as db:
            new = generate_api_key()
            db.add(
                ApiKey(
                    user_id=owner,
                    name="k",
                    prefix=new.prefix,
                    key_hash=new.key_hash,
                    allowed_models=allowed_models,
                    revoked_at=datetime.now(UTC) if revoked else None,
                    expires_at=expires_at,
                    **(rate_limits or {}),
                )
            )
    finally:
        await engine.dispose()
    return new.key


def now() -> float:
    return time.monotonic()


@dataclass(frozen=True)
class GatewayEntryPoint:
    url: str
    pid: int
    token: str  # a bearer JWT of a real, active user


@contextmanager
def gateway_entry_point(
    stack_env: dict[str, str], database_url: str, namespace: str, log: Path, **settings: str
) -> Iterator[GatewayEntryPoint]:
    """The `inference-gateway` console entry point as a process (dev mode, the stack's
    database and cluster, this module's JWT secret, watching `namespace`; `settings`: more
    of its environment), ready on /healthz."""
    port = free_port()
    env = {
        **os.environ,
        "DEV_MODE": "true",
        "DATABASE_URL": database_url,
        "KUBECONFIG": stack_env["KUBECONFIG"],
        "JWT_SECRET": JWT_SECRET,
        "GATEWAY_PORT": str(port),
        "GATEWAY_WATCH_NAMESPACE": namespace,
        **settings,
    }
    entry = str(Path(sys.executable).parent / "inference-gateway")
    url = f"http://127.0.0.1:{port}"
    with http_process([entry], env, f"{url}/healthz", log=log) as process:
        user_id = asyncio.run(create_user(database_url))
        token = TokenSigner(JWT_SECRET).issue(str(user_id), "g", "user")
        yield GatewayEntryPoint(url, process.pid, token)
