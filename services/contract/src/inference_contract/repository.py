"""Data access for contracts, reservations and usage (flush, never commit: the unit of
work in `inference_common.db` commits)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    String,
    Text,
    Uuid,
    and_,
    bindparam,
    cast,
    false,
    func,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from inference_common.model_access import ModelAccess
from inference_common.rate_windows import RATE_SUBJECT_USER
from inference_common.tables import (
    Model,
    NamespaceContract,
    RateCounter,
    Reservation,
    User,
    UserContract,
)
from inference_contract.facts import AliasClaim, ModelFacts, ServerRequest
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


@dataclass(frozen=True)
class Snapshot:
    """Everything a decision reads, from one query: both contracts as stored (empty: none),
    both usages (without the server decided on), and the request's registry facts."""

    user_contract: dict[str, Any]
    namespace_contract: dict[str, Any]
    owned: Usage | None
    spaced: Usage
    model: ModelFacts


_LOCK = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest(:keys) AS k"
).bindparams(bindparam("keys", type_=ARRAY(Text)))

# One round trip for a decision: usages (reservations of the owner or the namespace, but the
# server itself), the two contracts, the registry models the spec or its aliases name, and
# other owners' servers answering to one of its aliases.
_SNAPSHOT = (
    text(
        """
    SELECT
      count(*) FILTER (WHERE r.owner = :owner AND r.replicas > 0),
      coalesce(sum(r.replicas) FILTER (WHERE r.owner = :owner), 0),
      coalesce(sum(r.replicas * r.gpus_per_replica) FILTER (WHERE r.owner = :owner), 0),
      coalesce(sum(r.replicas * r.gpus_per_replica * r.gpu_memory_gib_per_gpu)
        FILTER (WHERE r.owner = :owner), 0),
      count(*) FILTER (WHERE r.namespace = :namespace AND r.replicas > 0),
      coalesce(sum(r.replicas) FILTER (WHERE r.namespace = :namespace), 0),
      coalesce(sum(r.replicas * r.gpus_per_replica) FILTER (WHERE r.namespace = :namespace), 0),
      coalesce(sum(r.replicas * r.gpus_per_replica * r.gpu_memory_gib_per_gpu)
        FILTER (WHERE r.namespace = :namespace), 0),
      (SELECT to_jsonb(c) FROM user_contracts c WHERE c.username = :owner) AS user_contract,
      (SELECT to_jsonb(c) FROM namespace_contracts c WHERE c.namespace = :namespace)
        AS namespace_contract,
      (SELECT jsonb_agg(jsonb_build_object(
          'uuid', m.uuid::text, 'name', m.name, 'sha256', m.sha256,
          'context_length', m.context_length, 'owner', u.username,
          'visibility', m.visibility, 'shared_with', m.shared_with))
        FROM models m LEFT JOIN users u ON u.id = m.owner_id
        WHERE m.name = ANY(:model_names) OR m.uuid = :model_uuid
          OR m.sha256 = :model_sha256) AS models,
      (SELECT jsonb_agg(jsonb_build_object(
          'namespace', o.namespace, 'name', o.name, 'owner', o.owner,
          'names', array_append(array_append(o.aliases, o.name), o.model_name)))
        FROM reservations o
        WHERE cardinality(:aliases) > 0
          AND (o.aliases && :aliases OR o.name = ANY(:aliases) OR o.model_name = ANY(:aliases))
          AND o.owner IS DISTINCT FROM :owner
          AND NOT (o.namespace = :namespace AND o.name = :name)) AS claims
    FROM reservations r
    WHERE (r.owner = :owner OR r.namespace = :namespace)
      AND NOT (r.namespace = :namespace AND r.name = :name)
    """
    )
    .bindparams(
        bindparam("owner", type_=String),
        bindparam("namespace", type_=String),
        bindparam("name", type_=String),
        bindparam("model_names", type_=ARRAY(Text)),
        bindparam("model_uuid", type_=Uuid),
        bindparam("model_sha256", type_=String),
        bindparam("aliases", type_=ARRAY(Text)),
    )
    .columns(user_contract=JSONB, namespace_contract=JSONB, models=JSONB, claims=JSONB)
)


_HELD_COLUMNS = (
    "server_uuid",
    "owner",
    "model_name",
    "replicas",
    "gpus_per_replica",
    "gpu_memory_gib_per_gpu",
    "gpu_product",
    "source",
    "aliases",
)
_UPSERT = insert(Reservation).values(
    namespace=bindparam("namespace"),
    name=bindparam("name"),
    **{column: bindparam(column) for column in _HELD_COLUMNS},
)
# built once: a reservation's upsert is compiled once per process, not per review
_HOLD = select(Reservation).from_statement(
    _UPSERT.on_conflict_do_update(
        index_elements=["namespace", "name"],
        set_={
            **{column: _UPSERT.excluded[column] for column in _HELD_COLUMNS},
            "updated_at": func.now(),
        },
    ).returning(Reservation)
)


def _uuid(value: str | None) -> UUID | None:
    """A spec's model uuid as the column's type (anything else matches no row)."""
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


def _access(row: Mapping[str, Any]) -> ModelAccess:
    return ModelAccess(
        name=str(row["name"]),
        owner=row.get("owner"),
        visibility=str(row["visibility"]),
        shared_with=tuple(row.get("shared_with") or ()),
    )


def model_facts(
    request: ServerRequest, models: list[dict[str, Any]], claims: list[dict[str, Any]]
) -> ModelFacts:
    """The registry rows and claims of a snapshot as the policy's facts: the model the spec
    names (by uuid, else name, else checksum) gives the context length."""
    parsed = _uuid(request.model_uuid)
    uuid = str(parsed) if parsed is not None else None
    named = [
        m
        for m in models
        if m["uuid"] == uuid
        or m["name"] == request.model_name
        or (request.model_sha256 is not None and m["sha256"] == request.model_sha256)
    ]
    primary = next((m for m in named if m["uuid"] == uuid), None) or next(
        (m for m in named if m["name"] == request.model_name), None
    )
    aliases = set(request.aliases)
    return ModelFacts(
        context_length=primary["context_length"] if primary else None,
        models=tuple(_access(m) for m in named),
        alias_models=tuple(_access(m) for m in models if m["name"] in aliases),
        alias_claims=tuple(
            AliasClaim(alias, c.get("owner"), c["namespace"], c["name"])
            for c in claims
            for alias in c["names"]
            if alias in aliases
        ),
    )


class ContractRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, keys: Iterable[str]) -> None:
        """Transaction-scoped advisory locks, taken in sorted order (no deadlock) in one
        statement: the check-and-count of one owner or namespace runs one at a time."""
        await self.session.execute(_LOCK, {"keys": sorted(set(keys))})

    async def snapshot(self, owner: str | None, request: ServerRequest) -> Snapshot:
        row = (
            await self.session.execute(
                _SNAPSHOT,
                {
                    "owner": owner,
                    "namespace": request.namespace,
                    "name": request.name,
                    "model_names": [request.model_name, *request.aliases],
                    "model_uuid": _uuid(request.model_uuid),
                    "model_sha256": request.model_sha256,
                    "aliases": list(request.aliases),
                },
            )
        ).one()
        sums = [int(v) for v in row[:8]]
        user_contract, namespace_contract, models, claims = row[8:]
        return Snapshot(
            user_contract=user_contract or {},
            namespace_contract=namespace_contract or {},
            owned=Usage(*sums[:4]) if owner is not None else None,
            spaced=Usage(*sums[4:]),
            model=model_facts(request, models or [], claims or []),
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
        params = {
            "namespace": request.namespace,
            "name": request.name,
            "server_uuid": server_uuid,
            "owner": owner,
            "model_name": request.model_name,
            "replicas": request.replicas,
            "gpus_per_replica": request.gpus_per_replica,
            "gpu_memory_gib_per_gpu": request.gpu_memory_gib_per_gpu,
            "gpu_product": request.gpu_product,
            "source": source,
            "aliases": list(request.aliases),
        }
        row: Reservation | None = await self.session.scalar(
            _HOLD, params, execution_options={"populate_existing": True}
        )
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
            "aliases": list(request.aliases),
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
