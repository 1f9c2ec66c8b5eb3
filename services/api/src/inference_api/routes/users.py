"""Users: the caller (and their password), and (admins) everyone: create, disable, reset."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from inference_api import accounts
from inference_api.deps import AdminUser, CurrentUser, SessionDep, StateDep
from inference_api.repositories.users import UserRepository
from inference_api.schemas import PasswordChange, PasswordReset, UserCreate, UserOut, UserUpdate
from inference_common.errors import UnauthorizedError

router = APIRouter(prefix="/users", tags=["users"])


def caller_address(request: Request, state: StateDep) -> str:
    peer = request.client.host if request.client else None
    return state.authenticator.client_address(peer, request.headers.getlist("x-forwarded-for"))


@router.get("/me", response_model=UserOut)
async def read_current_user(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"description": "Wrong current password"}, 429: {"description": "Throttled"}},
)
async def change_own_password(
    body: PasswordChange, request: Request, user: CurrentUser, state: StateDep, session: SessionDep
) -> Response:
    """Tokens issued before the change (this one too) stop working: log in again."""
    row = await UserRepository(session).get(user.id)
    if row is None:
        raise UnauthorizedError("user no longer exists")
    await state.authenticator.change_password(
        row, body.current_password, body.new_password, caller_address(request, state)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
    row = await accounts.create_user(session, body.username, body.password, body.role)
    return UserOut.model_validate(row)


@router.patch("/{username}", response_model=UserOut)
async def update_user(
    username: str, body: UserUpdate, admin: AdminUser, session: SessionDep
) -> UserOut:
    """Disables (`{"disabled": true}`) or enables a user; admins cannot disable themselves."""
    row = await accounts.find_user(session, username)
    accounts.set_disabled(admin, row, body.disabled)
    return UserOut.model_validate(row)


@router.post("/{username}/password", status_code=status.HTTP_204_NO_CONTENT)
async def reset_password(
    username: str, body: PasswordReset, _: AdminUser, session: SessionDep
) -> Response:
    """Sets a user's password; their earlier tokens stop working."""
    row = await accounts.find_user(session, username)
    await accounts.set_password(row, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
