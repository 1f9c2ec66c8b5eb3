"""Decisions against the database: evaluate (read only), reserve and resize (check and
count in one transaction, under advisory locks of the owner and the namespace)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inference_common.errors import ConflictError
from inference_common.tables import Reservation
from inference_contract.facts import ModelFacts, Principal, ServerRequest
from inference_contract.limits import Limits, effective, namespace_defaults, user_defaults
from inference_contract.policy import Account, Decision, decide
from inference_contract.repository import ContractRepository, Held, Snapshot, contract_values
from inference_contract.settings import ContractSettings


def lock_keys(owner: str | None, namespace: str, aliases: tuple[str, ...] = ()) -> list[str]:
    """The owner's and the namespace's locks, and one per alias claimed (two owners claiming
    the same alias at once are decided one after the other)."""
    keys = [f"contract-namespace:{namespace}", *(f"contract-alias:{a}" for a in aliases)]
    if owner is not None:
        keys.append(f"contract-user:{owner}")
    return keys


@dataclass(frozen=True)
class Facts:
    """What only the caller knows (the webhook: children of the name it found in the cluster
    that the operator does not own)."""

    foreign_children: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    reservation: Reservation | None = None


@dataclass(frozen=True)
class Contracts:
    """The decisions, in the caller's session (one per request: its transaction is the
    check-and-count's). A decision reads everything in one query (`Snapshot`)."""

    settings: ContractSettings

    @cached_property
    def user_defaults(self) -> Limits:
        return user_defaults(self.settings)

    @cached_property
    def namespace_defaults(self) -> Limits:
        return namespace_defaults(self.settings)

    async def user_limits(self, repo: ContractRepository, username: str) -> Limits:
        row = await repo.user_contract(username)
        return effective(contract_values(row), self.user_defaults)

    async def namespace_limits(self, repo: ContractRepository, namespace: str) -> Limits:
        row = await repo.namespace_contract(namespace)
        return effective(contract_values(row), self.namespace_defaults)

    def accounts(self, owner: str | None, namespace: str, snapshot: Snapshot) -> list[Account]:
        accounts = []
        if owner is not None and snapshot.owned is not None:
            limits = effective(snapshot.user_contract, self.user_defaults)
            accounts.append(Account("user", owner, limits, snapshot.owned))
        limits = effective(snapshot.namespace_contract, self.namespace_defaults)
        accounts.append(Account("namespace", namespace, limits, snapshot.spaced))
        return accounts

    async def _decide(
        self,
        repo: ContractRepository,
        principal: Principal,
        request: ServerRequest,
        facts: Facts | None = None,
        *,
        quotas_only: bool = False,
    ) -> Decision:
        """`quotas_only`: a resize of a held server (its model and names were decided)."""
        snapshot = await repo.snapshot(principal.username, request)
        accounts = self.accounts(principal.username, request.namespace, snapshot)
        model = ModelFacts() if quotas_only else snapshot.model
        if facts is not None and facts.foreign_children:
            model = replace(model, foreign_children=facts.foreign_children)
        return decide(request, principal, accounts, model, self.settings.near_quota_ratio)

    async def evaluate(
        self,
        session: AsyncSession,
        principal: Principal,
        request: ServerRequest,
        facts: Facts | None = None,
    ) -> Decision:
        """A dry run: nothing is written."""
        return await self._decide(ContractRepository(session), principal, request, facts)

    async def reserve(
        self,
        session: AsyncSession,
        principal: Principal,
        request: ServerRequest,
        *,
        server_uuid: str | None,
        source: str,
        facts: Facts | None = None,
    ) -> Outcome:
        """Holds (or replaces) the reservation of (namespace, name) when the policy allows.
        The locks last until `session`'s transaction ends: the caller commits at once."""
        repo = ContractRepository(session)
        await repo.lock(lock_keys(principal.username, request.namespace, request.aliases))
        decision = await self._decide(repo, principal, request, facts)
        if not decision.allowed:
            return Outcome(decision)
        try:
            row = await repo.hold(request, principal.username, server_uuid, source)
        except IntegrityError as exc:  # the only unique key left: server_uuid
            raise ConflictError(
                f"server uuid {server_uuid!r} is reserved for another server"
            ) from exc
        return Outcome(decision, row)

    async def resize(
        self,
        session: AsyncSession,
        principal: Principal,
        held: Held,
        replicas: int,
        *,
        dry_run: bool = False,
    ) -> Outcome | None:
        """New replicas of a held server, checked against the quotas; None: not held.
        Scaling down is always allowed; a dry run writes nothing."""
        repo = ContractRepository(session)
        current = await repo.reservation(held)
        if current is None:
            return None
        await repo.lock(lock_keys(current.owner, held.namespace))
        await session.refresh(current)
        if replicas > current.replicas:
            request = replace(reserved_request(current), replicas=replicas)
            owner = replace(principal, username=current.owner)
            decision = await self._decide(repo, owner, request, quotas_only=True)
            if not decision.allowed:
                return Outcome(decision, current)
        else:
            decision = Decision()
        if not dry_run:
            await repo.set_replicas(current, replicas)
        return Outcome(decision, current)


def reserved_request(row: Reservation) -> ServerRequest:
    """The quota-relevant part of a held server (runtime settings are not kept)."""
    return ServerRequest(
        namespace=row.namespace,
        name=row.name,
        model_name=row.model_name,
        replicas=row.replicas,
        gpus_per_replica=row.gpus_per_replica,
        gpu_product=row.gpu_product,
        gpu_memory_gib_per_gpu=row.gpu_memory_gib_per_gpu,
    )
