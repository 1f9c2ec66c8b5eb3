"""Facts about a served model for Ollama's /api/show and TGI's /info: the model registry row
in Postgres (GGUF metadata read at upload), falling back to what the replica's llama.cpp
reports (/v1/models meta)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference_common.tables import Model
from inference_gateway.catalog import ServeInfo
from inference_gateway.gateway import Gateway


@dataclass(frozen=True)
class ModelFacts:
    source: str  # "registry" | "replica"
    architecture: str | None = None
    context_length: int | None = None
    parameter_count: int | None = None
    file_type: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


async def facts_from_registry(
    sessions: async_sessionmaker[AsyncSession] | None, name: str
) -> ModelFacts | None:
    if sessions is None:
        return None
    try:
        async with sessions() as session:
            row = (
                await session.execute(select(Model).where(Model.name == name))
            ).scalar_one_or_none()
    except (SQLAlchemyError, OSError):
        return None
    if row is None:
        return None
    return ModelFacts(
        source="registry",
        architecture=row.architecture,
        context_length=row.context_length,
        parameter_count=row.parameter_count,
        file_type=row.file_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        metadata=dict(row.gguf_metadata or {}),
    )


def facts_from_replica(models_doc: object) -> ModelFacts | None:
    """llama.cpp's GET /v1/models: data[0].meta has n_ctx_train, n_params, size."""
    if not isinstance(models_doc, dict):
        return None
    data = models_doc.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return None
    meta = data[0].get("meta") or {}
    ftype = meta.get("ftype")
    return ModelFacts(
        source="replica",
        context_length=meta.get("n_ctx_train"),
        parameter_count=meta.get("n_params"),
        size_bytes=meta.get("size"),
        file_type=ftype if isinstance(ftype, str) else None,
    )


async def model_facts(gw: Gateway, serve: ServeInfo) -> ModelFacts | None:
    """Registry row (Postgres) first; the replica's own report when there is none."""
    facts = await facts_from_registry(gw.sessions, serve.model)
    if facts is not None:
        return facts
    replicas = sorted(e.url for e in gw.catalog.endpoints_of(serve))
    return facts_from_replica(await gw.upstream.get_json(replicas, "/v1/models"))
