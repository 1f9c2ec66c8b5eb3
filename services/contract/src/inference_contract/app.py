"""The application factory: settings in, FastAPI app out; resources live in the lifespan."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from inference_common.kube import api_client
from inference_common.lifespan import open_database, services_lifespan
from inference_common.web import install_common, operation_id
from inference_contract.children import ChildNames, child_kinds
from inference_contract.contracts import Contracts
from inference_contract.metrics import QuotaGauges, RefreshQuotasOnWrite
from inference_contract.reconcile import Reconciler
from inference_contract.routes import contracts, decisions, health, webhook
from inference_contract.settings import ContractSettings
from inference_contract.state import AppState

SERVICE = "inference-contract"


async def build_state(settings: ContractSettings) -> AppState:
    engine, sessions = await open_database(
        settings.database_url, migrate=settings.run_migrations, pool_size=10
    )
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        signer=settings.token_signer(),
        contracts=Contracts(settings),
    )
    webhook = settings.webhook_tls_cert_file is not None and settings.check_child_names
    if settings.watch_modelserves or webhook:
        state.kube = api_client(settings.kubeconfig)
    if state.kube is not None and webhook:
        state.child_names = ChildNames(child_kinds(state.kube))
    if state.kube is not None and settings.watch_modelserves:
        state.reconciler = Reconciler(
            state.kube,
            sessions,
            settings.gpu_memory_gib,
            settings.default_gpu_memory_gib,
            timedelta(seconds=settings.orphan_grace_seconds),
        )
    return state


async def close_state(state: AppState) -> None:
    if state.reconciler is not None:
        await state.reconciler.stop()
    if state.child_names is not None:
        await state.child_names.stop()
    await state.engine.dispose()
    if state.kube is not None:
        state.kube.close()


def create_app(settings: ContractSettings | None = None, *, freeze_gc: bool = False) -> FastAPI:
    settings = settings or ContractSettings()
    quota_gauges = QuotaGauges(settings)

    async def start(state: AppState) -> None:
        if state.reconciler is not None:
            state.reconciler.start()
        if state.child_names is not None:
            state.child_names.start()
        quota_gauges.start(state.sessions)

    async def close(state: AppState) -> None:
        await quota_gauges.stop()
        await close_state(state)

    lifespan = services_lifespan(
        lambda: build_state(settings), close, start=start, freeze_gc=freeze_gc
    )

    app = FastAPI(
        title="Inference Service contract service",
        version="0.1.0",
        description="Quotas and serving policy: contracts, usage, evaluate, reservations, "
        "and the ModelServe validating admission webhook.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    install_common(app, SERVICE)
    app.add_middleware(RefreshQuotasOnWrite, gauges=quota_gauges)
    for router in (health.router, contracts.router, decisions.router, webhook.router):
        app.include_router(router)
    return app
