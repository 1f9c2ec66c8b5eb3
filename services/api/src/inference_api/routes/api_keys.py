"""API keys of the caller: create (the key is shown once), list, revoke."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status

from inference_api import api_keys
from inference_api.deps import CurrentUser, SessionDep
from inference_api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: ApiKeyCreate, user: CurrentUser, session: SessionDep
) -> ApiKeyCreated:
    return await api_keys.create_key(session, user, body)


@router.get("", response_model=list[ApiKeyOut])
async def list_api_keys(user: CurrentUser, session: SessionDep) -> list[ApiKeyOut]:
    return [ApiKeyOut.model_validate(r) for r in await api_keys.list_keys(session, user)]


@router.delete("/{key_id}", response_model=ApiKeyOut)
async def revoke_api_key(key_id: UUID, user: CurrentUser, session: SessionDep) -> ApiKeyOut:
    return ApiKeyOut.model_validate(await api_keys.revoke_key(session, user, key_id))
