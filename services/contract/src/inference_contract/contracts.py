"""Decisions against the database: evaluate (read only), reserve and resize (check and
count in one transaction, under advisory locks of the owner and the namespace)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inference_common.errors import ConflictError
from inference_common.tables import Reservation
from inference_contract.facts import ModelFacts, Principal, ServerRequest
from inference_contract.limits import Limits, effective, namespace_defaults, user_defaults
from inference_contract.policy import Account, Decision, decide
from inference_contract.repository import ContractRepository, Held, contract_values
from inference_contract.settings import ContractSettings


def lock_keys(owner: str | None, namespace: str) -> list[str]:
    keys = [f"contract-namespace:{namespace}"]
    if owner is not None:
        keys.append(f"contract-user:{owner}")
    return keys


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    reservation: Reservation | None = None


@dataclass(frozen=True)
class Contracts:
    """The decisions, in the caller's session (one per request: its transaction is the
    check-and-count's)."""

    settings: ContractSettings

    async def user_limits(self, repo: ContractRepository, username: str) -> Limits:
        row = await repo.user_contract(username)
        return effective(contract_values(row), user_defaults(self.settings))

    async def namespace_limits(self, repo: ContractRepository, namespace: str) -> Limits:
        row = await repo.namespace_contract(namespace)
        return effective(contract_values(row), namespace_defaults(self.settings))

    async def accounts(
        self, repo: ContractRepository, owner: str | None, namespace: str, excluding: Held
    ) -> list[Account]:
        owned, spaced = await repo.usages(owner, namespace, excluding)
        accounts = []
        if owner is not None and owned is not None:
            accounts.append(Account("user", owner, await self.user_limits(repo, owner), owned))
        limits = await self.namespace_limits(repo, namespace)
        accounts.append(Account("namespace", namespace, limits, spaced))
        return accounts

    async def _decide(
        self,
        repo: ContractRepository,
        principal: Principal,
        request: ServerRequest,
        model: ModelFacts,
    ) -> Decision:
        held = Held(request.namespace, request.name)
        accounts = await self.accounts(repo, principal.username, request.namespace, held)
        return decide(request, principal, accounts, model, self.settings.near_quota_ratio)

    @staticmethod
    async def _model(
        repo: ContractRepository, request: ServerRequest, model_uuid: str | None
    ) -> ModelFacts:
        """The registry is asked only when a context size needs checking."""
        if request.context_size is None:
            return ModelFacts()
        return await repo.model_facts(request.model_name, model_uuid)

    async def evaluate(
        self,
        session: AsyncSession,
        principal: Principal,
        request: ServerRequest,
        model_uuid: str | None = None,
    ) -> Decision:
        """A dry run: nothing is written."""
        repo = ContractRepository(session)
        model = await self._model(repo, request, model_uuid)
        return await self._decide(repo, principal, request, model)

    async def reserve(
        self,
        session: AsyncSession,
        principal: Principal,
        request: ServerRequest,
        *,
        server_uuid: str | None,
        source: str,
        model_uuid: str | None = None,
    ) -> Outcome:
        """Holds (or replaces) the reservation of (namespace, name) when the policy allows.
        The locks last until `session`'s transaction ends: the caller commits at once."""
        repo = ContractRepository(session)
        await repo.lock(lock_keys(principal.username, request.namespace))
        model = await self._model(repo, request, model_uuid)
        decision = await self._decide(repo, principal, request, model)
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
            decision = await self._decide(repo, owner, request, ModelFacts())
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
