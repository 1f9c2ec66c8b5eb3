"""Users: the caller, and (admins) everyone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from inference_api.accounts import create_user as create_user_row
from inference_api.deps import AdminUser, CurrentUser, SessionDep
from inference_api.repositories.users import UserRepository
from inference_api.schemas import UserCreate, UserOut

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserOut)
async def read_current_user(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.get("", response_model=list[UserOut])
async def list_users(
    _: AdminUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[UserOut]:
    rows = await UserRepository(session).list(limit, offset)
    return [UserOut.model_validate(r) for r in rows]


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, _: AdminUser, session: SessionDep) -> UserOut:
    row = await create_user_row(session, body.username, body.password, body.role)
    return UserOut.model_validate(row)
