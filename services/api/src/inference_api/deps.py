"""FastAPI dependencies: app state, one session per request, the current user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from inference_api.repositories.users import UserRepository
from inference_api.state import AppState
from inference_common.db import unit_of_work
from inference_common.errors import ForbiddenError, UnauthorizedError
from inference_common.tables import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def get_state(request: Request) -> AppState:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread
    hand-off on every request."""
    state: AppState = request.app.state.services
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """One session per request; committed (or rolled back) before the response is sent."""
    async with unit_of_work(state.sessions) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def current_user(
    state: StateDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    """The active user named by a valid bearer JWT issued after the user's last password
    change; 401 (with WWW-Authenticate) otherwise.

    Read in a short session of its own, so a long request (an upload) holds no connection
    or open transaction while it streams."""
    if not token:
        raise _unauthorized("missing bearer token")
    try:
        claims = state.authenticator.signer.verify(token)
        user_id = UUID(claims.user_id)
    except UnauthorizedError as exc:
        raise _unauthorized(exc.message) from exc
    except ValueError as exc:
        raise _unauthorized("invalid token subject") from exc
    async with unit_of_work(state.sessions) as session:
        user = await UserRepository(session).get(user_id)
    if user is None or not user.is_active:
        raise _unauthorized("user no longer exists or is disabled")
    if claims.issued_before(user.password_changed_at):
        raise _unauthorized("token issued before the password was changed; log in again")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    if user.role != "admin":
        raise ForbiddenError("admin role required")
    return user


AdminUser = Annotated[User, Depends(admin_user)]
