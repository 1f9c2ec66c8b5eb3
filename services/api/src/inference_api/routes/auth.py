"""POST /auth/token: JSON body or OAuth2 password form → bearer JWT."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from inference_api.deps import SessionDep, StateDep
from inference_api.schemas import LoginRequest, TokenResponse
from inference_common.errors import UnprocessableError

router = APIRouter(tags=["auth"])

MAX_LOGIN_BODY = 16 * 1024

_LOGIN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": 64},
        "password": {"type": "string", "minLength": 1, "maxLength": 1024},
    },
}


async def _credentials(request: Request) -> LoginRequest:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form(max_files=0, max_fields=8)
            fields = {k: v for k, v in form.items() if k in ("username", "password")}
            return LoginRequest.model_validate(fields)
        raw = await request.body()
        if len(raw) > MAX_LOGIN_BODY:
            raise UnprocessableError("login body too large")
        return LoginRequest.model_validate(json.loads(raw or b"null"))
    except (ValueError, ValidationError) as exc:
        raise UnprocessableError(
            "expected JSON {username, password} or an OAuth2 password form"
        ) from exc


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    responses={401: {"description": "Wrong credentials"}, 429: {"description": "Rate-limited"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _LOGIN_SCHEMA},
                "application/x-www-form-urlencoded": {"schema": _LOGIN_SCHEMA},
            },
        }
    },
)
async def login(request: Request, state: StateDep, session: SessionDep) -> TokenResponse:
    """Exchanges a username and password for a short-lived access token."""
    credentials = await _credentials(request)
    peer = request.client.host if request.client else None
    address = state.authenticator.client_address(peer, request.headers.getlist("x-forwarded-for"))
    token = await state.authenticator.login(
        session, credentials.username, credentials.password, address
    )
    return TokenResponse(access_token=token)
