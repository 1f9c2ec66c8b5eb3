"""Serve, stop and status of servers (ModelServes)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from inference_api.deps import CurrentUser, SessionDep, StateDep
from inference_api.schemas import ServeRequest, ServeResponse, ServerOut, ServerUpdate

router = APIRouter(tags=["servers"])

JSON = "application/json"


@router.post("/serve", response_model=ServeResponse, status_code=status.HTTP_201_CREATED)
async def serve_model(
    body: ServeRequest, user: CurrentUser, session: SessionDep, state: StateDep
) -> ServeResponse:
    """Starts serving a registered model; returns the server uuid and its endpoint."""
    return await state.serving.serve(session, user, body)


@router.get("/status", response_model=list[ServerOut])
async def list_servers(
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    include_stopped: bool = False,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """Servers with their live phase, ready replicas and reasons: yours and those shared
    with a namespace you are allowed in (read-only to you); admins: all.

    Rendered by Postgres (see ServerRepository.list_json); the shape is `ServerOut`."""
    rendered = await state.serving.list_json(session, user, include_stopped, limit, offset)
    return Response(rendered, media_type=JSON)


@router.get("/servers/{server_uuid}", response_model=ServerOut)
async def get_server(
    server_uuid: UUID, user: CurrentUser, session: SessionDep, state: StateDep
) -> Response:
    return Response(await state.serving.get_json(session, user, server_uuid), media_type=JSON)


@router.patch("/servers/{server_uuid}", response_model=ServerOut)
async def update_server(
    server_uuid: UUID, body: ServerUpdate, user: CurrentUser, session: SessionDep, state: StateDep
) -> Response:
    """Scales a server (more replicas are checked against the contract's quotas: 403 / 409 /
    422 naming the rule; fewer always pass) and/or changes who may use it through the
    gateway and Traefik: `private` (its owner and admins), `namespace` or `public` (every
    authenticated caller). Owner or admin only: 403 for a user who only sees it through its
    namespace."""
    rendered = None
    if body.replicas is not None:
        rendered = await state.serving.scale(session, user, server_uuid, body.replicas)
    if body.visibility is not None:
        rendered = await state.serving.set_visibility(session, user, server_uuid, body.visibility)
    assert rendered is not None  # the body names at least one change
    return Response(rendered, media_type=JSON)


@router.delete("/stop/{server_uuid}", response_model=ServerOut)
async def stop_server(
    server_uuid: UUID, user: CurrentUser, session: SessionDep, state: StateDep
) -> Response:
    """Removes the server's ModelServe and marks the record stopped."""
    return Response(await state.serving.stop(session, user, server_uuid), media_type=JSON)
