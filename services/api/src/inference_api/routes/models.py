"""The model registry."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from inference_api.deps import CurrentUser, SessionDep, StateDep
from inference_api.registry import listed_model, model_detail
from inference_api.repositories.models import ModelRepository, servable_by
from inference_api.schemas import ModelDetail, ModelOut, ModelUpdate
from inference_common.errors import NotFoundError
from inference_common.modelserve import MODEL_NAME_MAX_LENGTH, MODEL_NAME_PATTERN

UPLOAD_PATH = "/models"

router = APIRouter(prefix=UPLOAD_PATH, tags=["models"])


@router.get("", response_model=list[ModelOut])
async def list_models(
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ModelOut]:
    """The models the caller may serve: admins all; users their own, public ones, and
    shared ones shared with a namespace they may serve in."""
    viewer = servable_by(user, state.registry.default_namespaces)
    return [listed_model(m) for m in await ModelRepository(session).list(limit, offset, viewer)]


@router.get("/{model_uuid}", response_model=ModelDetail)
async def get_model(
    model_uuid: UUID, user: CurrentUser, session: SessionDep, state: StateDep
) -> ModelDetail:
    models = ModelRepository(session)
    row = await models.get(model_uuid)
    if row is None or not await models.visible(row, user, state.registry.default_namespaces):
        raise NotFoundError(f"model {model_uuid} does not exist")
    return model_detail(row)


@router.patch(
    "/{model_uuid}",
    response_model=ModelDetail,
    responses={403: {"description": "Not the model's owner or an admin"}},
)
async def update_model(
    model_uuid: UUID, body: ModelUpdate, user: CurrentUser, session: SessionDep, state: StateDep
) -> ModelDetail:
    """Who may serve the model: `private`, `shared` with namespaces, or `public`. Servers
    already running keep running; the rule applies to the next serve or scale-out."""
    row = await state.registry.set_visibility(session, user, model_uuid, body)
    return model_detail(row)


def _declared_size(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


@router.post(
    "",
    response_model=ModelDetail,
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "Name taken or identical file already registered"},
        413: {"description": "Larger than the configured limit"},
        422: {"description": "Not a GGUF file, or truncated"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The GGUF file itself, streamed as the request body.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_model(
    request: Request,
    name: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MODEL_NAME_MAX_LENGTH,
            pattern=MODEL_NAME_PATTERN,
            description="Registry name, e.g. smollm2:135m or org/name:q4_k_m",
        ),
    ],
    user: CurrentUser,
    state: StateDep,
    visibility: Annotated[
        Literal["private", "public"],
        Query(description="Who may serve it (share it with namespaces later: PATCH)."),
    ] = "private",
) -> ModelDetail:
    """Streams a GGUF file into the registry: checksummed and inspected on the way."""
    row = await state.registry.upload(
        user, name, request.stream(), _declared_size(request), visibility
    )
    return model_detail(row)


@router.delete(
    "/{model_uuid}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "The model is being served"}},
)
async def delete_model(
    model_uuid: UUID, user: CurrentUser, session: SessionDep, state: StateDep
) -> Response:
    await state.registry.delete(session, user, model_uuid)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
