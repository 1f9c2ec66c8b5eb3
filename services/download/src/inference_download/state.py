"""What the app's routes share, built in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from inference_common.auth import TokenSigner
from inference_download.jobs import Jobs
from inference_download.progress import ChangeBoard
from inference_download.runner import Runner
from inference_download.settings import DownloadSettings


@dataclass
class AppState:
    settings: DownloadSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    signer: TokenSigner
    jobs: Jobs
    board: ChangeBoard
    runner: Runner
