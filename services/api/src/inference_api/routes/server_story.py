"""A server's story: its Kubernetes Events, its pods and their logs (whoever may see the
server: its owner, admins, and for a namespace-visible one its namespace's users)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from inference_api.deps import CurrentUser, SessionDep, StateDep
from inference_api.server_story import SERVER_CONTAINER, ServerStory, stream

router = APIRouter(tags=["servers"])

TEXT = "text/plain; charset=utf-8"


class EventObject(BaseModel):
    kind: str
    name: str


class ServerEventOut(BaseModel):
    type: str
    reason: str
    message: str
    object: EventObject
    count: int
    first_seen: str | None
    last_seen: str | None
    source: str


class ServerEventsOut(BaseModel):
    events: list[ServerEventOut]


class ServerPodOut(BaseModel):
    name: str
    phase: str
    node: str | None
    created: str | None
    containers: list[str]


class ServerPodsOut(BaseModel):
    pods: list[ServerPodOut]


@router.get("/servers/{server_uuid}/pods", response_model=ServerPodsOut)
async def server_pods(
    server_uuid: UUID, user: CurrentUser, session: SessionDep, state: StateDep
) -> dict[str, Any]:
    """The server's pods (newest first) with their containers, for choosing whose log to
    read."""
    row = await state.serving.get(session, user, server_uuid)
    return {"pods": await ServerStory(state.kube).pods(row.namespace, row.name)}


@router.get("/servers/{server_uuid}/events", response_model=ServerEventsOut)
async def server_events(
    server_uuid: UUID, user: CurrentUser, session: SessionDep, state: StateDep
) -> dict[str, Any]:
    """Events of the server's ModelServe and its pods (as `kubectl describe` shows them),
    newest first."""
    row = await state.serving.get(session, user, server_uuid)
    events = await ServerStory(state.kube).events(row.namespace, row.name)
    return {"events": [e.to_json() for e in events]}


@router.get(
    "/servers/{server_uuid}/logs",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def server_logs(
    server_uuid: UUID,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    tail: Annotated[int | None, Query(ge=0, le=100_000)] = 200,
    follow: bool = False,
    pod: Annotated[str | None, Query(max_length=253, pattern=r"^[a-z0-9][-a-z0-9.]*$")] = None,
    container: Annotated[str, Query(max_length=63, pattern=r"^[a-z0-9][-a-z0-9]*$")] = (
        SERVER_CONTAINER
    ),
) -> Response:
    """The log of one of the server's pods (the newest running one unless `pod` names
    another) through Kubernetes' pod log API; `follow=true` streams new lines as they come.
    The pod shown is in the `X-Pod` header."""
    row = await state.serving.get(session, user, server_uuid)
    chosen, response = await ServerStory(state.kube).open_log(
        row.namespace, row.name, pod, container, tail, follow
    )
    headers = {"X-Pod": chosen, "Cache-Control": "no-store"}
    if follow:
        return StreamingResponse(stream(response), media_type=TEXT, headers=headers)
    try:
        body = await asyncio.to_thread(response.read)
    finally:
        response.release_conn()
    return Response(body, media_type=TEXT, headers=headers)
