"""The application factory: settings in, FastAPI app out; the job runner lives in the lifespan."""

from __future__ import annotations

from fastapi import FastAPI

from inference_common.lifespan import open_database, services_lifespan
from inference_common.web import install_common, operation_id
from inference_download.jobs import Jobs
from inference_download.progress import ChangeBoard
from inference_download.routes import router
from inference_download.runner import Runner
from inference_download.settings import DownloadSettings
from inference_download.state import AppState

SERVICE = "inference-download"


async def build_state(settings: DownloadSettings) -> AppState:
    engine, sessions = await open_database(
        settings.database_url, migrate=settings.run_migrations, pool_size=5
    )
    jobs = Jobs(sessions)
    board = ChangeBoard()
    return AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        signer=settings.token_signer(),
        jobs=jobs,
        board=board,
        runner=Runner(settings, jobs, board),
    )


async def start(state: AppState) -> None:
    await state.runner.start()


async def close_state(state: AppState) -> None:
    await state.runner.stop()
    await state.engine.dispose()


def create_app(settings: DownloadSettings | None = None) -> FastAPI:
    settings = settings or DownloadSettings()
    lifespan = services_lifespan(lambda: build_state(settings), close_state, start=start)

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
