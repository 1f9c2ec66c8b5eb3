"""FastAPI dependencies every service shares: its state, one database session per request,
and the user a bearer JWT of the API names. Needs the `web` extra."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from inference_common.auth import TokenSigner
from inference_common.db import unit_of_work
from inference_common.errors import UnauthorizedError, UnavailableError
from inference_common.tables import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)

BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


def app_services(request: Request) -> Any:
    """`app.state.services`, set by the lifespan; 503 until then (a second listener, such as
    the contract service's TLS one, may answer first)."""
    state = getattr(request.app.state, "services", None)
    if state is None:
        raise UnavailableError("the service is starting")
    return state


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; committed (or rolled back) before the response is sent."""
    async with unit_of_work(app_services(request).sessions) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]


def unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def bearer_user(signer: TokenSigner, session: AsyncSession, token: str | None) -> User:
    """The active user named by a valid bearer JWT issued after the user's last password
    change; 401 (with WWW-Authenticate) otherwise."""
    if not token:
        raise unauthorized("missing bearer token")
    try:
        claims = signer.verify(token)
        user_id = UUID(claims.user_id)
    except UnauthorizedError as exc:
        raise unauthorized(exc.message) from exc
    except ValueError as exc:
        raise unauthorized("invalid token subject") from exc
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise unauthorized("user no longer exists or is disabled")
    if claims.issued_before(user.password_changed_at):
        raise unauthorized("token issued before the password was changed; log in again")
    return user
