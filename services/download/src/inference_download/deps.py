"""FastAPI dependencies: app state and the current user (the API's JWTs, same secret)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from inference_common.db import unit_of_work
from inference_common.deps import BearerToken, app_services, bearer_user
from inference_common.tables import User
from inference_download.state import AppState


async def get_state(request: Request) -> AppState:
    state: AppState = app_services(request)
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def current_user(state: StateDep, token: BearerToken) -> User:
    async with unit_of_work(state.sessions) as session:
        return await bearer_user(state.signer, session, token)


CurrentUser = Annotated[User, Depends(current_user)]
