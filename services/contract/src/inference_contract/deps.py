"""FastAPI dependencies: app state, the caller (the API's JWT, verified with the same
signer and secret), and the rules of who may read or write what."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from inference_common.deps import BearerToken, SessionDep, app_services, bearer_user
from inference_common.errors import ForbiddenError
from inference_contract.state import AppState

__all__ = ["AdminDep", "Caller", "CallerDep", "SessionDep", "StateDep"]


async def get_state(request: Request) -> AppState:
    state: AppState = app_services(request)
    return state


StateDep = Annotated[AppState, Depends(get_state)]


@dataclass(frozen=True)
class Caller:
    username: str
    is_admin: bool

    def require_self_or_admin(self, username: str) -> None:
        if not self.is_admin and username != self.username:
            raise ForbiddenError("users may read only their own contract and usage")


async def current_caller(state: StateDep, session: SessionDep, token: BearerToken) -> Caller:
    """The user of the bearer JWT, read in the request's session (role from the database)."""
    user = await bearer_user(state.signer, session, token)
    return Caller(user.username, user.role == "admin")


CallerDep = Annotated[Caller, Depends(current_caller)]


async def admin_caller(caller: CallerDep) -> Caller:
    if not caller.is_admin:
        raise ForbiddenError("admin role required")
    return caller


AdminDep = Annotated[Caller, Depends(admin_caller)]
