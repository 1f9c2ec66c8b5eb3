"""Serve / stop / status: server records and their ModelServes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID, uuid4

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from inference_api.feasibility import check_context, check_gpu_capacity
from inference_api.modelserve_client import ModelServeClient
from inference_api.naming import modelserve_name
from inference_api.node_gpus import NodeGpuReader
from inference_api.policy import Principal, ServePolicy
from inference_api.repositories.models import ModelRepository
from inference_api.repositories.servers import ServerRepository
from inference_api.schemas import GpuRequest, ServeRequest, ServeResponse
from inference_api.server_access import may_manage, shared_with, user_namespaces
from inference_common.errors import (
    AppError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnprocessableError,
)
from inference_common.llama_flags import RuntimeFlagError, parse_runtime_params
from inference_common.modelserve import (
    GpuSpec,
    ModelRef,
    ModelServeSpec,
    ModelSource,
    Phase,
    S3Source,
    Toleration,
    endpoint_path,
    modelserve_object,
)
from inference_common.modelserve_base import MANAGED_BY_API, MANAGED_BY_LABEL, validation_message
from inference_common.server_identity import (
    SIGNATURE_ANNOTATION,
    access_annotations,
    sign_server_uuid,
)
from inference_common.tables import Model, Server, User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """Scheduling added to every ModelServe this service creates (from settings)."""

    node_selector: dict[str, str] | None = None
    tolerations: list[Toleration] | None = None


def build_spec(
    model: Model, bucket: str, request: ServeRequest, placement: Placement | None = None
) -> ModelServeSpec:
    """The ModelServe spec of a serve request (pure); 422 naming the bad flag or field."""
    placement = placement or Placement()
    try:
        runtime = parse_runtime_params(request.runtime_params)
    except RuntimeFlagError as exc:
        raise UnprocessableError(
            f"runtime_params: {exc}", {"flag": exc.flag, "reason": exc.reason}
        ) from exc
    try:
        gpu = _gpu_spec(request.gpu)
        return ModelServeSpec(
            model=ModelRef(
                name=model.name,
                uuid=str(model.uuid),
                source=ModelSource(s3=S3Source(bucket=bucket, key=model.object_key)),
                sha256=model.sha256,
                size_bytes=model.size_bytes,
            ),
            replicas=request.replicas,
            gpu=gpu,
            runtime=runtime,
            node_selector=placement.node_selector,
            tolerations=placement.tolerations,
        )
    except ValidationError as exc:
        raise UnprocessableError(validation_message(exc)) from exc


def _gpu_spec(gpu: GpuRequest) -> GpuSpec:
    return GpuSpec(count=gpu.count, product=gpu.product, min_memory_gib=gpu.min_memory_gib)


@dataclass(frozen=True)
class Serving:
    modelserves: ModelServeClient
    nodes: NodeGpuReader
    policy: ServePolicy
    bucket: str
    default_namespace: str
    placement: Placement = field(default_factory=Placement)
    server_uuid_key: str = field(default="", repr=False)
    """Signs the server uuids this API issues, so the operator routes at them."""
    allowed_namespaces: tuple[str, ...] = ("default", "inference")
    """The global default of who is in which namespace (`ALLOWED_NAMESPACES`)."""

    async def _model(self, session: AsyncSession, request: ServeRequest) -> Model:
        models = ModelRepository(session)
        if request.model_uuid is not None:
            model = await models.get(request.model_uuid)
            if model is None:
                raise NotFoundError(f"model {request.model_uuid} does not exist")
            if request.model_name is not None and request.model_name != model.name:
                raise UnprocessableError("model_uuid and model_name name different models")
            return model
        assert request.model_name is not None
        model = await models.by_name(request.model_name)
        if model is None:
            raise NotFoundError(f"model {request.model_name!r} does not exist")
        return model

    async def serve(
        self, session: AsyncSession, user: User, request: ServeRequest
    ) -> ServeResponse:
        model = await self._model(session, request)
        if model.state != "ready":
            raise UnprocessableError(f"model {model.name!r} is not ready ({model.state})")
        spec = build_spec(model, self.bucket, request, self.placement)
        namespace = request.namespace or self.default_namespace
        check_context(spec.runtime, model.context_length)
        if spec.gpu.count > 0:
            check_gpu_capacity(spec, await self.nodes.read())
        server_uuid = uuid4()
        name = modelserve_name(model.name, str(server_uuid))
        principal = principal_of(user)
        admission = await self.policy.reserve(principal, namespace, name, spec, str(server_uuid))
        try:
            row = await self._create(
                session, user, model, spec, namespace, name, server_uuid, request.visibility
            )
        except BaseException:
            await self._release_quietly(principal, namespace, name)
            raise
        return ServeResponse(
            server_uuid=row.uuid,
            endpoint=row.endpoint,
            name=row.name,
            namespace=row.namespace,
            phase=row.phase,
            warnings=list(admission.warnings),
        )

    async def _create(
        self,
        session: AsyncSession,
        user: User,
        model: Model,
        spec: ModelServeSpec,
        namespace: str,
        name: str,
        server_uuid: UUID,
        visibility: str,
    ) -> Server:
        row = await ServerRepository(session).add(
            uuid=server_uuid,
            name=name,
            namespace=namespace,
            model_uuid=model.uuid,
            model_name=model.name,
            owner_id=user.id,
            replicas=spec.replicas,
            gpu=spec.gpu.to_k8s(),
            runtime=spec.runtime.to_k8s(),
            phase=Phase.PENDING.value,
            ready_replicas=0,
            endpoint=endpoint_path(str(server_uuid)),
            conditions=[],
            reasons=[],
            visibility=visibility,
        )
        body = modelserve_object(
            name, spec, server_uuid=str(server_uuid), labels={MANAGED_BY_LABEL: MANAGED_BY_API}
        )
        if self.server_uuid_key:
            signature = sign_server_uuid(self.server_uuid_key, namespace, name, str(server_uuid))
            body["metadata"]["annotations"] = {
                SIGNATURE_ANNOTATION: signature,
                **self._access(row, visibility),
            }
        # The record is flushed (not yet committed) first; if creating the ModelServe fails
        # the request's unit of work rolls it back.
        await self.modelserves.create(namespace, body)
        logger.info(
            "server created",
            extra={"server_uuid": str(server_uuid), "model": model.name, "namespace": namespace},
        )
        return row

    async def _release_quietly(self, principal: Principal, namespace: str, name: str) -> None:
        """Best effort: what the contract service cannot release now, its reconcile frees
        (a reservation whose ModelServe never came, or is gone)."""
        try:
            await self.policy.release(principal, namespace, name)
        except AppError as exc:
            logger.warning(
                "reservation not released",
                extra={"namespace": namespace, "server": name, "reason": exc.message},
            )

    def _access(self, row: Server, visibility: str) -> dict[str, str]:
        return access_annotations(
            self.server_uuid_key,
            row.namespace,
            row.name,
            str(row.uuid),
            str(row.owner_id),
            visibility,
        )

    async def set_visibility(
        self, session: AsyncSession, user: User, server_uuid: UUID, visibility: str
    ) -> str:
        """Changes who may use a server (its owner or an admin); returns it as JSON. The
        record and the signed annotations of its ModelServe change together: if patching
        the ModelServe fails, the request's unit of work rolls the record back."""
        row = await self.managed(session, user, server_uuid)
        if row.stopped_at is not None:
            raise ConflictError(f"server {server_uuid} is stopped")
        if row.owner_id is None or not self.server_uuid_key:
            raise ConflictError(
                f"server {server_uuid} was not created through the API: its visibility is "
                "that of ModelServes made with kubectl (public)"
            )
        row.visibility = visibility
        await session.flush()
        await self.modelserves.patch_annotations(
            row.namespace, row.name, self._access(row, visibility)
        )
        logger.info(
            "server visibility changed",
            extra={"server_uuid": str(server_uuid), "visibility": visibility},
        )
        return await self.get_json(session, user, server_uuid)

    async def get(self, session: AsyncSession, user: User, server_uuid: UUID) -> Server:
        """A server the user may see (its owner, admins, and for a `namespace`-visible one
        the users allowed in its namespace); 404 for any other."""
        row = await ServerRepository(session).get(server_uuid)
        if row is not None and (may_manage(row, user) or await self._shared(session, row, user)):
            return row
        raise NotFoundError(f"server {server_uuid} does not exist")

    async def managed(self, session: AsyncSession, user: User, server_uuid: UUID) -> Server:
        """A server the user may change: 403 for one only shared with their namespace."""
        row = await self.get(session, user, server_uuid)
        if not may_manage(row, user):
            raise ForbiddenError(
                f"server {server_uuid} is shared with namespace {row.namespace!r}: only its "
                "owner or an admin may stop, scale or change it"
            )
        return row

    async def _shared(self, session: AsyncSession, row: Server, user: User) -> bool:
        if not shared_with(row, [row.namespace]):
            return False  # not namespace-visible: no need to look up the user's namespaces
        namespaces = await user_namespaces(session, user.username, self.allowed_namespaces)
        return shared_with(row, namespaces)

    async def get_json(self, session: AsyncSession, user: User, server_uuid: UUID) -> str:
        row = await self.get(session, user, server_uuid)
        rendered = await ServerRepository(session).get_json(row.uuid)
        assert rendered is not None  # just read in this transaction
        return rendered

    async def list_json(
        self, session: AsyncSession, user: User, include_stopped: bool, limit: int, offset: int
    ) -> str:
        """Servers the user may see (admins: all) as a JSON array."""
        servers = ServerRepository(session)
        if user.role == "admin":
            return await servers.list_json(None, frozenset(), include_stopped, limit, offset)
        namespaces = await user_namespaces(session, user.username, self.allowed_namespaces)
        return await servers.list_json(user.id, namespaces, include_stopped, limit, offset)

    async def stop(self, session: AsyncSession, user: User, server_uuid: UUID) -> str:
        """Deletes the ModelServe, marks the record stopped; returns it as JSON."""
        row = await self.managed(session, user, server_uuid)
        await self.modelserves.delete(row.namespace, row.name)
        servers = ServerRepository(session)
        await servers.mark_stopped(row, datetime.now(UTC))
        await self._release_quietly(principal_of(user), row.namespace, row.name)
        logger.info("server stopped", extra={"server_uuid": str(server_uuid)})
        rendered = await servers.get_json(row.uuid)
        assert rendered is not None
        return rendered

    async def scale(
        self, session: AsyncSession, user: User, server_uuid: UUID, replicas: int
    ) -> str:
        """New replicas: the reservation is resized first (more replicas are checked against
        the quotas), then the ModelServe; a failed patch puts the reservation back."""
        row = await self.managed(session, user, server_uuid)
        if row.stopped_at is not None:
            raise ConflictError(f"server {server_uuid} is stopped")
        principal = principal_of(user)
        before = row.replicas
        admission = await self.policy.resize(principal, row.namespace, row.name, replicas)
        if admission is None:
            raise ConflictError(
                f"server {server_uuid} holds no reservation in the contract service "
                "(it is reconciled from the cluster; retry shortly)"
            )
        try:
            await self.modelserves.scale(row.namespace, row.name, replicas)
        except BaseException:
            try:
                await self.policy.resize(principal, row.namespace, row.name, before)
            except AppError as exc:
                logger.warning("reservation not restored", extra={"reason": exc.message})
            raise
        servers = ServerRepository(session)
        await servers.set_replicas(row, replicas)
        logger.info(
            "server scaled",
            extra={"server_uuid": str(server_uuid), "replicas": replicas},
        )
        rendered = await servers.get_json(row.uuid)
        assert rendered is not None
        return rendered


def principal_of(user: User) -> Principal:
    return Principal(str(user.id), user.username, user.role)
