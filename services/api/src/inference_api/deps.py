"""FastAPI dependencies: app state, one session per request, the current user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from inference_api.state import AppState
from inference_common.db import unit_of_work
from inference_common.deps import BearerToken, SessionDep, app_services, bearer_user
from inference_common.errors import ForbiddenError
from inference_common.tables import User

__all__ = ["AdminUser", "CurrentUser", "SessionDep", "StateDep"]


async def get_state(request: Request) -> AppState:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread
    hand-off on every request."""
    state: AppState = app_services(request)
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def current_user(state: StateDep, token: BearerToken) -> User:
    """Read in a short session of its own, so a long request (an upload) holds no connection
    or open transaction while it streams."""
    async with unit_of_work(state.sessions) as session:
        return await bearer_user(state.authenticator.signer, session, token)


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    if user.role != "admin":
        raise ForbiddenError("admin role required")
    return user


AdminUser = Annotated[User, Depends(admin_user)]
