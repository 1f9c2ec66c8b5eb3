"""FastAPI dependencies: app state and the current user (the API's JWTs, same secret)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.exceptions import HTTPException

from inference_common.db import unit_of_work
from inference_common.errors import UnauthorizedError
from inference_common.tables import User
from inference_download.state import AppState

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.services
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def current_user(
    state: StateDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The active user of a valid bearer JWT issued by the API; 401 otherwise."""
    if not token:
        raise _unauthorized("missing bearer token")
    try:
        user_id = UUID(state.signer.verify(token).user_id)
    except UnauthorizedError as exc:
        raise _unauthorized(exc.message) from exc
    except ValueError as exc:
        raise _unauthorized("invalid token subject") from exc
    async with unit_of_work(state.sessions) as session:
        user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise _unauthorized("user no longer exists or is disabled")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
