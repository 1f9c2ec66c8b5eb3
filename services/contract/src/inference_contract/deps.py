"""FastAPI dependencies: app state, the caller (the API's JWT, verified with the same
signer and secret), and the rules of who may read or write what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from inference_common.db import unit_of_work
from inference_common.errors import ForbiddenError, UnauthorizedError, UnavailableError
from inference_contract.repository import ContractRepository
from inference_contract.state import AppState

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def get_state(request: Request) -> AppState:
    """503 until the lifespan has built the state (the TLS listener may answer first)."""
    state: AppState | None = getattr(request.app.state, "services", None)
    if state is None:
        raise UnavailableError("the contract service is starting")
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """One session per request (the caller's lookup and the work share it); committed, or
    rolled back, before the response is sent."""
    async with unit_of_work(state.sessions) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


@dataclass(frozen=True)
class Caller:
    username: str
    is_admin: bool

    def require_self_or_admin(self, username: str) -> None:
        if not self.is_admin and username != self.username:
            raise ForbiddenError("users may read only their own contract and usage")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def current_caller(
    state: StateDep, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Caller:
    """The active user named by a valid bearer JWT (role read from the database)."""
    if not token:
        raise _unauthorized("missing bearer token")
    try:
        user_id = UUID(state.signer.verify(token).user_id)
    except UnauthorizedError as exc:
        raise _unauthorized(exc.message) from exc
    except ValueError as exc:
        raise _unauthorized("invalid token subject") from exc
    user = await ContractRepository(session).user(user_id)
    if user is None or not user.is_active:
        raise _unauthorized("user no longer exists or is disabled")
    return Caller(user.username, user.role == "admin")


CallerDep = Annotated[Caller, Depends(current_caller)]


async def admin_caller(caller: CallerDep) -> Caller:
    if not caller.is_admin:
        raise ForbiddenError("admin role required")
    return caller


AdminDep = Annotated[Caller, Depends(admin_caller)]
