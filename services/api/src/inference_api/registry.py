"""The model registry: streamed uploads with GGUF inspection, listing, deletion."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError
from minio import Minio
from minio.error import MinioException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from urllib3.exceptions import HTTPError as TransportError

from inference_api.repositories.models import ModelListing, ModelRepository
from inference_api.schemas import ModelDetail, ModelOut, ModelUpdate
from inference_api.upload import StoredFile, UploadAbortedError, UploadLimits, stream_gguf_to_s3
from inference_common.db import unit_of_work
from inference_common.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    UnprocessableError,
    dependency_unavailable,
)
from inference_common.gguf import model_columns
from inference_common.model_access import ModelVisibility
from inference_common.outages import OBJECT_STORE
from inference_common.tables import Model, User

logger = logging.getLogger(__name__)


def object_key(model_uuid: UUID) -> str:
    return f"models/{model_uuid}.gguf"


def _metadata_kv(row: Model) -> dict[str, Any]:
    kv = (row.gguf_metadata or {}).get("kv")
    return kv if isinstance(kv, dict) else {}


def model_out(row: Model, tokenizer: str | None, vocab_size: int | None) -> ModelOut:
    """`tokenizer` and `vocab_size` come from the metadata, which lists do not load."""
    return ModelOut(
        uuid=row.uuid,
        name=row.name,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        architecture=row.architecture,
        context_length=row.context_length,
        parameter_count=row.parameter_count,
        file_type=row.file_type,
        tokenizer=tokenizer,
        vocab_size=vocab_size,
        source=row.source,
        state=row.state,
        owner_id=row.owner_id,
        visibility=row.visibility,
        shared_with=list(row.shared_with or ()),
        created_at=row.created_at,
    )


def listed_model(listing: ModelListing) -> ModelOut:
    return model_out(listing.model, listing.tokenizer, listing.vocab_size)


def model_detail(row: Model) -> ModelDetail:
    kv = _metadata_kv(row)
    template = kv.get("tokenizer.chat_template")
    tokens = kv.get("tokenizer.ggml.tokens")
    vocab = tokens.get("length") if isinstance(tokens, dict) else None
    tokenizer = kv.get("tokenizer.ggml.model")
    return ModelDetail(
        **model_out(
            row,
            tokenizer if isinstance(tokenizer, str) else None,
            vocab if isinstance(vocab, int) else None,
        ).model_dump(),
        object_key=row.object_key,
        chat_template=template if isinstance(template, str) else None,
        metadata=row.gguf_metadata or {},
    )


@dataclass
class Registry:
    s3: Minio
    uploads: Any  # an s3_multipart.s3_client: the upload path
    bucket: str
    sessions: async_sessionmaker[AsyncSession]
    limits: UploadLimits
    default_namespaces: tuple[str, ...] = ()
    """ALLOWED_NAMESPACES: where a user without a contract allow-list may serve (listing
    `shared` models)."""
    # Uploads beyond this many wait (each holds up to `limits.buffers` part buffers).
    max_concurrent_uploads: int = 4
    _uploading: asyncio.Semaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._uploading = asyncio.Semaphore(self.max_concurrent_uploads)

    async def _remove(self, key: str) -> None:
        try:
            await asyncio.to_thread(self.s3.remove_object, self.bucket, key)
        except (MinioException, TransportError):
            logger.warning("could not remove object", extra={"key": key}, exc_info=True)

    async def upload(
        self,
        owner: User,
        name: str,
        body: AsyncIterator[bytes],
        declared_size: int | None,
        visibility: str = ModelVisibility.PRIVATE,
    ) -> Model:
        if declared_size is not None and declared_size > self.limits.max_bytes:
            raise PayloadTooLargeError(
                f"upload of {declared_size} bytes exceeds the limit of {self.limits.max_bytes}",
                {"max_bytes": self.limits.max_bytes},
            )
        if declared_size == 0:
            raise UnprocessableError("empty file: not a GGUF model")
        async with unit_of_work(self.sessions) as session:
            if await ModelRepository(session).by_name(name) is not None:
                raise ConflictError(f"model {name!r} already exists")
        model_uuid = uuid4()
        key = object_key(model_uuid)
        try:
            async with self._uploading:
                stored = await stream_gguf_to_s3(
                    body, self.uploads, self.bucket, key, self.limits, declared_size
                )
        except UploadAbortedError as exc:
            raise BadRequestError(str(exc)) from exc
        except (ClientError, BotoCoreError, aiohttp.ClientError, OSError) as exc:
            raise dependency_unavailable(OBJECT_STORE) from exc
        try:
            return await self._register(owner, name, model_uuid, key, stored, visibility)
        except BaseException:
            await asyncio.shield(self._remove(key))
            raise

    async def _register(
        self,
        owner: User,
        name: str,
        model_uuid: UUID,
        key: str,
        stored: StoredFile,
        visibility: str,
    ) -> Model:
        try:
            async with unit_of_work(self.sessions) as session:
                models = ModelRepository(session)
                duplicate = await models.by_sha256(stored.sha256)
                if duplicate is not None:
                    raise ConflictError(
                        f"this file is already registered as {duplicate.name!r}",
                        {"model_uuid": str(duplicate.uuid), "sha256": stored.sha256},
                    )
                return await models.add(
                    uuid=model_uuid,
                    name=name,
                    object_key=key,
                    size_bytes=stored.size,
                    sha256=stored.sha256,
                    source="upload",
                    state="ready",
                    owner_id=owner.id,
                    visibility=visibility,
                    **model_columns(stored.header),
                )
        except IntegrityError as exc:  # a concurrent upload of the same name or file
            raise ConflictError(f"model {name!r} or an identical file already exists") from exc

    async def set_visibility(
        self, session: AsyncSession, user: User, model_uuid: UUID, update: ModelUpdate
    ) -> Model:
        """Owner or admin; a model the caller may not see is a 404, as on GET."""
        models = ModelRepository(session)
        row = await models.get(model_uuid)
        if row is None or not await models.visible(row, user, self.default_namespaces):
            raise NotFoundError(f"model {model_uuid} does not exist")
        if user.role != "admin" and row.owner_id != user.id:
            raise ForbiddenError("only the model's owner or an admin may share it")
        row.visibility = update.visibility
        row.shared_with = list(update.shared_with)
        await session.flush()
        return row

    async def delete(self, session: AsyncSession, user: User, model_uuid: UUID) -> None:
        models = ModelRepository(session)
        row = await models.get(model_uuid)
        if row is None:
            raise NotFoundError(f"model {model_uuid} does not exist")
        if user.role != "admin" and row.owner_id != user.id:
            raise ForbiddenError("only the model's owner or an admin may delete it")
        if await models.is_served(model_uuid):
            raise ConflictError(f"model {row.name!r} is being served; stop its servers first")
        key = row.object_key
        await models.detach_stopped_servers(model_uuid)
        await models.delete(row)
        await session.flush()
        try:
            await asyncio.to_thread(self.s3.remove_object, self.bucket, key)
        except (MinioException, TransportError) as exc:
            raise dependency_unavailable(OBJECT_STORE) from exc
