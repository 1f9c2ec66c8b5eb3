"""The service's endpoints: start, watch, list and cancel imports; the source's catalogue."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from inference_common.errors import ConflictError, NotFoundError
from inference_common.tables import DownloadJob, User
from inference_download.deps import CurrentUser, StateDep
from inference_download.progress import TERMINAL, JobSnapshot, snapshot
from inference_download.source import QuantModel, list_models, read_manifest
from inference_download.state import AppState

router = APIRouter()


@router.get("/health", include_in_schema=False)
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def _visible_job(state: AppState, user: User, model_uuid: UUID) -> DownloadJob:
    job = await state.jobs.get(model_uuid)
    if job is None or (user.role != "admin" and job.owner_id != user.id):
        raise NotFoundError(f"no download of model {model_uuid}")
    return job


@router.post("/download/{model_uuid}", status_code=202, response_model=JobSnapshot)
async def start_download(model_uuid: UUID, state: StateDep, user: CurrentUser) -> JobSnapshot:
    """Starts the import (202); a second call returns the running or finished job."""
    existing = await state.jobs.get(model_uuid)
    if existing is not None and existing.phase not in ("Failed", "Cancelled"):
        if user.role != "admin" and existing.owner_id != user.id:
            raise ConflictError(f"model {model_uuid} is being imported by another user")
        return snapshot(existing)
    manifest = await read_manifest(state.runner.source, state.settings.quant_bucket, model_uuid)
    job, started = await state.jobs.create_or_get(
        model_uuid,
        manifest,
        user.id,
        state.settings.quant_s3_endpoint,
        state.settings.quant_bucket,
    )
    if started:
        state.runner.ensure(model_uuid)
    return snapshot(job)


@router.get("/status/{model_uuid}", response_model=JobSnapshot)
async def download_status(model_uuid: UUID, state: StateDep, user: CurrentUser) -> JobSnapshot:
    return snapshot(await _visible_job(state, user, model_uuid))


@router.get("/downloads", response_model=list[JobSnapshot])
async def list_downloads(state: StateDep, user: CurrentUser) -> list[JobSnapshot]:
    """The caller's jobs; an admin's call lists everyone's."""
    owner = None if user.role == "admin" else user.id
    return [snapshot(job) for job in await state.jobs.list(owner)]


@router.delete("/download/{model_uuid}", response_model=JobSnapshot)
async def cancel_download(model_uuid: UUID, state: StateDep, user: CurrentUser) -> JobSnapshot:
    """Cancels; the incomplete upload and any stored file are removed."""
    job = await _visible_job(state, user, model_uuid)
    if job.phase == "Done":
        raise ConflictError("the import is done; delete the model through the API instead")
    if job.phase not in TERMINAL:
        await state.runner.cancel(model_uuid)
    return snapshot(await _visible_job(state, user, model_uuid))


@router.get("/quant/models", response_model=list[QuantModel])
async def quant_models(state: StateDep, _: CurrentUser) -> list[QuantModel]:
    """What the quantization cluster offers, from its manifests."""
    return await list_models(state.runner.source, state.settings.quant_bucket)


@router.get("/status/{model_uuid}/events", response_model=None)
async def download_events(
    model_uuid: UUID, request: Request, state: StateDep, user: CurrentUser
) -> StreamingResponse | JSONResponse:
    """Server-sent events: a full snapshot at once (on every reconnect), then one on every
    change; the stream ends after the final phase."""
    await _visible_job(state, user, model_uuid)

    async def events() -> AsyncIterator[str]:
        while True:
            seen = state.board.version(model_uuid)
            job = await state.jobs.get(model_uuid)
            if job is None:
                return
            data = json.dumps(snapshot(job).model_dump(mode="json"))
            yield f"event: progress\ndata: {data}\n\n"
            if job.phase in TERMINAL or await request.is_disconnected():
                return
            await state.board.wait(model_uuid, seen, state.settings.sse_keepalive_seconds)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"cache-control": "no-store"}
    )
