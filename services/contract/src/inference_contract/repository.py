"""Data access for contracts, reservations and usage (flush, never commit: the unit of
work in `inference_common.db` commits)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, String, and_, cast, false, func, not_, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from inference_common.rate_windows import RATE_SUBJECT_USER
from inference_common.tables import (
    Model,
    NamespaceContract,
    RateCounter,
    Reservation,
    User,
    UserContract,
)
from inference_contract.facts import ModelFacts, ServerRequest
from inference_contract.limits import LIMIT_FIELDS, USER_ONLY_FIELDS, Usage

NAMESPACE_FIELDS = tuple(f for f in LIMIT_FIELDS if f not in USER_ONLY_FIELDS)


def contract_values(row: UserContract | NamespaceContract | None) -> dict[str, Any]:
    names = LIMIT_FIELDS if isinstance(row, UserContract) else NAMESPACE_FIELDS
    return {name: getattr(row, name) for name in names} if row is not None else {}


@dataclass(frozen=True)
class Held:
    """A reservation's key: the ModelServe it stands for."""

    namespace: str
    name: str


class ContractRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, keys: Iterable[str]) -> None:
        """Transaction-scoped advisory locks, taken in sorted order (no deadlock): the
        check-and-count of one owner or namespace runs one at a time."""
        for key in sorted(set(keys)):
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
            )

    async def user_exists(self, username: str) -> bool:
        found = await self.session.scalar(select(User.id).where(User.username == username))
        return found is not None

    async def user_contract(self, username: str) -> UserContract | None:
        return await self.session.get(UserContract, username)

    async def namespace_contract(self, namespace: str) -> NamespaceContract | None:
        return await self.session.get(NamespaceContract, namespace)

    async def put_user_contract(self, username: str, values: Mapping[str, Any]) -> UserContract:
        await self._upsert(UserContract, {"username": username}, values)
        row = await self.session.get(UserContract, username, populate_existing=True)
        assert row is not None
        return row

    async def put_namespace_contract(
        self, namespace: str, values: Mapping[str, Any]
    ) -> NamespaceContract:
        await self._upsert(NamespaceContract, {"namespace": namespace}, values)
        row = await self.session.get(NamespaceContract, namespace, populate_existing=True)
        assert row is not None
        return row

    async def _upsert(self, table: Any, key: dict[str, str], values: Mapping[str, Any]) -> None:
        statement = insert(table).values(**key, **values)
        update = {**values, "updated_at": func.now()}
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=list(key), set_=update)
        )

    async def usage(
        self,
        *,
        owner: str | None = None,
        namespace: str | None = None,
        excluding: Held | None = None,
    ) -> Usage:
        """One owner's or one namespace's usage, with the owner's model storage."""
        owned, spaced = await self.usages(owner, namespace or "", excluding)
        if owner is not None and owned is not None:
            return replace(owned, storage_bytes=await self.storage_bytes(owner))
        return spaced

    async def usages(
        self, owner: str | None, namespace: str, excluding: Held | None = None
    ) -> tuple[Usage | None, Usage]:
        """The owner's and the namespace's server usage in one query (no storage)."""
        r = Reservation
        gpus = r.replicas * r.gpus_per_replica
        memory = gpus * r.gpu_memory_gib_per_gpu

        def sums(match: ColumnElement[bool]) -> list[Any]:
            return [
                func.count().filter(match, r.replicas > 0),
                func.coalesce(func.sum(r.replicas).filter(match), 0),
                func.coalesce(func.sum(gpus).filter(match), 0),
                func.coalesce(func.sum(memory).filter(match), 0),
            ]

        by_owner = r.owner == owner if owner is not None else false()
        by_namespace = r.namespace == namespace
        query = select(*sums(by_owner), *sums(by_namespace)).where(or_(by_owner, by_namespace))
        if excluding is not None:
            query = query.where(
                not_(and_(r.namespace == excluding.namespace, r.name == excluding.name))
            )
        row = [int(v) for v in (await self.session.execute(query)).one()]
        owned = Usage(*row[:4]) if owner is not None else None
        return owned, Usage(*row[4:])

    async def rate_counts(self, username: str, window: int) -> tuple[int, int]:
        """The user's requests and tokens in the gateway's `window` (0, 0 when none)."""
        subject = func.concat(RATE_SUBJECT_USER, cast(User.id, String))
        row = (
            await self.session.execute(
                select(RateCounter.requests, RateCounter.tokens)
                .join(User, RateCounter.subject == subject)
                .where(User.username == username, RateCounter.window == window)
            )
        ).one_or_none()
        return (int(row.requests), int(row.tokens)) if row is not None else (0, 0)

    async def storage_bytes(self, owner: str) -> int:
        total = await self.session.scalar(
            select(func.coalesce(func.sum(Model.size_bytes), 0))
            .join(User, Model.owner_id == User.id)
            .where(User.username == owner)
        )
        return int(total or 0)

    async def model_facts(self, model_name: str, model_uuid: str | None) -> ModelFacts:
        query = select(Model.context_length)
        if model_uuid:
            try:
                query = query.where(Model.uuid == UUID(model_uuid))
            except ValueError:
                return ModelFacts()
        else:
            query = query.where(Model.name == model_name)
        return ModelFacts(context_length=await self.session.scalar(query))

    async def reservation(self, held: Held) -> Reservation | None:
        return await self.session.scalar(
            select(Reservation).where(
                Reservation.namespace == held.namespace, Reservation.name == held.name
            )
        )

    async def reservation_by_uuid(self, server_uuid: str) -> Reservation | None:
        return await self.session.scalar(
            select(Reservation).where(Reservation.server_uuid == server_uuid)
        )

    async def all_reservations(self) -> list[Reservation]:
        return list(await self.session.scalars(select(Reservation)))

    async def hold(
        self,
        request: ServerRequest,
        owner: str | None,
        server_uuid: str | None,
        source: str,
    ) -> Reservation:
        """Creates or replaces the reservation of (namespace, name)."""
        values = {
            "server_uuid": server_uuid,
            "owner": owner,
            "model_name": request.model_name,
            "replicas": request.replicas,
            "gpus_per_replica": request.gpus_per_replica,
            "gpu_memory_gib_per_gpu": request.gpu_memory_gib_per_gpu,
            "gpu_product": request.gpu_product,
            "source": source,
        }
        statement = insert(Reservation).values(
            namespace=request.namespace, name=request.name, **values
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["namespace", "name"], set_={**values, "updated_at": func.now()}
        ).returning(Reservation)
        row = await self.session.scalar(upsert, execution_options={"populate_existing": True})
        assert row is not None
        return row

    async def set_replicas(self, row: Reservation, replicas: int) -> None:
        row.replicas = replicas
        await self.session.flush()

    async def release(self, held: Held) -> bool:
        row = await self.reservation(held)
        if row is None:
            return False
        await self.session.delete(row)
        await self.session.flush()
        return True

    async def observe(self, request: ServerRequest, server_uuid: str | None) -> None:
        """What the cluster runs, counted: creates the reservation when missing (owner
        unknown) or brings its size in line; owner and source are kept."""
        size = {
            "model_name": request.model_name,
            "replicas": request.replicas,
            "gpus_per_replica": request.gpus_per_replica,
            "gpu_memory_gib_per_gpu": request.gpu_memory_gib_per_gpu,
            "gpu_product": request.gpu_product,
        }
        statement = insert(Reservation).values(
            namespace=request.namespace,
            name=request.name,
            server_uuid=server_uuid,
            owner=None,
            source="cluster",
            **size,
        )
        update = {
            **size,
            "server_uuid": func.coalesce(Reservation.server_uuid, statement.excluded.server_uuid),
            "updated_at": func.now(),
        }
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=["namespace", "name"], set_=update)
        )

    async def release_deleted(self, held: Held, server_uuid: str | None) -> bool:
        """Releases (namespace, name) unless it is already held for a newer server."""
        row = await self.reservation(held)
        if row is None or (row.server_uuid and server_uuid and row.server_uuid != server_uuid):
            return False
        await self.session.delete(row)
        await self.session.flush()
        return True

    async def release_missing(self, present: set[tuple[str, ...]], before: datetime) -> int:
        """Releases reservations of ModelServes not listed, made before `before`."""
        released = 0
        for row in await self.all_reservations():
            if (row.namespace, row.name) not in present and row.updated_at < before:
                await self.session.delete(row)
                released += 1
        await self.session.flush()
        return released
