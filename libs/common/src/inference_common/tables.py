"""The platform's tables (one database, shared by the services that need it).

Each service owns the logic around its rows; the schema and its migrations live here once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import UniqueConstraint

from inference_common.db import Base


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class User(Base):
    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16), default="user")
    is_active: Mapped[bool] = mapped_column(default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )  # tokens issued before it are refused
    created_at: Mapped[datetime] = _now_column()


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    allowed_models: Mapped[list[str] | None] = mapped_column(ARRAY(Text), nullable=True)
    created_at: Mapped[datetime] = _now_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # per-key overrides of the owner's contract (null: the contract's, or the global default)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tokens_per_minute: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    concurrent_requests: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (
        CheckConstraint("visibility IN ('private', 'shared', 'public')", name="visibility"),
    )

    uuid: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    object_key: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    architecture: Mapped[str | None] = mapped_column(String(64), nullable=True)
    context_length: Mapped[int | None] = mapped_column(Integer, nullable=True)
    parameter_count: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    file_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    gguf_metadata: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    source: Mapped[str] = mapped_column(String(64), default="upload")  # upload | <cluster>:<uuid>
    state: Mapped[str] = mapped_column(String(16), default="ready")
    owner_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = _now_column()
    visibility: Mapped[str] = mapped_column(String(16), server_default="private")
    """Who may serve it: `private` (owner and admins), `shared` (also in the namespaces of
    `shared_with`) or `public` (anyone); see `inference_common.model_access`."""
    shared_with: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'::text[]")
    )


class Server(Base):
    __tablename__ = "servers"

    uuid: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    name: Mapped[str] = mapped_column(String(253))
    namespace: Mapped[str] = mapped_column(String(63))
    model_uuid: Mapped[UUID | None] = mapped_column(
        ForeignKey("models.uuid", ondelete="RESTRICT"), nullable=True, index=True
    )
    model_name: Mapped[str] = mapped_column(String(256))
    owner_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    replicas: Mapped[int] = mapped_column(Integer, default=1)
    gpu: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    runtime: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    phase: Mapped[str] = mapped_column(String(16), default="Pending")
    ready_replicas: Mapped[int] = mapped_column(Integer, default=0)
    endpoint: Mapped[str] = mapped_column(Text)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    reasons: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )  # why it is not (fully) ready, derived from conditions when status is mirrored
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    visibility: Mapped[str] = mapped_column(String(16), server_default="public")
    """`private` (owner and admins), `namespace` (also users allowed in its namespace) or
    `public` (every caller); see server_identity."""


class DownloadJob(Base):
    """An import of one model from the quantization cluster (the download service's rows).

    `files`: per file of the manifest, in order: key, size_bytes, sha256, target_key,
    source_etag, upload_id, parts ([number, etag, size] stored; all of them once `state` is
    `completing`), bytes_done, state (pending, copying, completing, stored, removed).
    """

    __tablename__ = "download_jobs"

    model_uuid: Mapped[UUID] = mapped_column(primary_key=True)
    source_endpoint: Mapped[str] = mapped_column(String(255))
    source_bucket: Mapped[str] = mapped_column(String(63))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    phase: Mapped[str] = mapped_column(String(16), default="Queued", index=True)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_sent: Mapped[int] = mapped_column(BigInteger, default=0)  # PUT, re-sends included
    bytes_resumed: Mapped[int] = mapped_column(BigInteger, default=0)  # skipped: already stored
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_class: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_progress_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


# --- contracts (the contract service owns these rows) ---------------------------------------


class _ContractLimits:
    """Limits shared by user and namespace contracts; null inherits the global default."""

    max_servers: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_replicas_per_server: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_gpus: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_gpus_per_replica: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_gpu_memory_gib: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_storage_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    allowed_gpu_products: Mapped[list[str] | None] = mapped_column(ARRAY(Text), nullable=True)
    allowed_images: Mapped[list[str] | None] = mapped_column(ARRAY(Text), nullable=True)
    max_context_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_parallel: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_threads: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_batch_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class UserContract(_ContractLimits, Base):
    """Keyed by username: a Kubernetes user maps to the platform user of the same name."""

    __tablename__ = "user_contracts"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    allowed_namespaces: Mapped[list[str] | None] = mapped_column(ARRAY(Text), nullable=True)
    # rate limits, enforced by the gateway (user contracts only)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tokens_per_minute: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    concurrent_requests: Mapped[int | None] = mapped_column(Integer, nullable=True)


class NamespaceContract(_ContractLimits, Base):
    __tablename__ = "namespace_contracts"

    namespace: Mapped[str] = mapped_column(String(63), primary_key=True)


class Reservation(Base):
    """What one ModelServe holds against its owner's and its namespace's quotas."""

    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint("namespace", "name"),
        Index("ix_reservations_aliases", "aliases", postgresql_using="gin"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    namespace: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(253))
    server_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    model_name: Mapped[str] = mapped_column(String(256), default="")
    replicas: Mapped[int] = mapped_column(Integer)
    gpus_per_replica: Mapped[int] = mapped_column(Integer, default=0)
    gpu_memory_gib_per_gpu: Mapped[int] = mapped_column(Integer, default=0)
    gpu_product: Mapped[str | None] = mapped_column(String(63), nullable=True)
    source: Mapped[str] = mapped_column(String(16))  # api | admission | cluster
    aliases: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'::text[]")
    )  # the model names it claims at the gateway (the aliases annotation)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


# --- rate limits (the gateway owns these rows) -----------------------------------------------


class RateCounter(Base):
    """Requests and tokens of one subject (`user:<id>`, `key:<id>`) in one window; every
    gateway replica adds its counts in batches."""

    __tablename__ = "rate_counters"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch // window length
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)


class RateLease(Base):
    """Requests in flight of one subject on one gateway replica, valid until `expires_at`
    (a replica that stops renewing drops out of the sum)."""

    __tablename__ = "rate_leases"

    replica: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    in_flight: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
