"""The application factory: settings in, FastAPI app out; the job runner lives in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from inference_common.auth import TokenSigner
from inference_common.db import make_engine, make_sessionmaker
from inference_common.migrate_child import upgrade_in_child_process
from inference_common.web import install_common, operation_id
from inference_download.jobs import Jobs
from inference_download.progress import ChangeBoard
from inference_download.routes import router
from inference_download.runner import Runner
from inference_download.settings import DownloadSettings
from inference_download.state import AppState

SERVICE = "inference-download"


def create_app(settings: DownloadSettings | None = None) -> FastAPI:
    settings = settings or DownloadSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.run_migrations:
            await upgrade_in_child_process(settings.database_url)
        engine = make_engine(settings.database_url, pool_size=5, max_overflow=5)
        sessions = make_sessionmaker(engine)
        jobs = Jobs(sessions)
        board = ChangeBoard()
        runner = Runner(settings, jobs, board)
        await runner.start()
        app.state.services = AppState(
            settings=settings,
            engine=engine,
            sessions=sessions,
            signer=TokenSigner(settings.jwt_secret.get_secret_value()),
            jobs=jobs,
            board=board,
            runner=runner,
        )
        try:
            yield
        finally:
            await runner.stop()
            await engine.dispose()

    app = FastAPI(
        title="Inference Service download",
        version="0.1.0",
        description="Imports quantized models from the quantization cluster's object store.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    install_common(app, SERVICE)
    app.include_router(router)
    return app
