"""GET/PUT /contracts/users/{username} and /contracts/namespaces/{namespace}; GET /usage/…."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path

from inference_common.errors import ForbiddenError
from inference_common.rate_windows import scaled, window_of
from inference_contract.deps import AdminDep, CallerDep, SessionDep, StateDep
from inference_contract.repository import ContractRepository, contract_values
from inference_contract.schemas import (
    NAMESPACE_PATTERN,
    USERNAME_PATTERN,
    ContractOut,
    LimitsOut,
    NamespaceContractIn,
    RateUsageOut,
    UsageOut,
    UsedOut,
    UserContractIn,
)

router = APIRouter(tags=["contracts"])

UsernamePath = Annotated[str, Path(max_length=64, pattern=USERNAME_PATTERN)]
NamespacePath = Annotated[str, Path(max_length=63, pattern=NAMESPACE_PATTERN)]


@router.get("/contracts/users/{username}", response_model=ContractOut)
async def get_user_contract(
    username: UsernamePath, caller: CallerDep, state: StateDep, session: SessionDep
) -> ContractOut:
    """Admins read any user's contract, users their own."""
    caller.require_self_or_admin(username)
    repo = ContractRepository(session)
    row = await repo.user_contract(username)
    limits = await state.contracts.user_limits(repo, username)
    return ContractOut(
        subject=username, contract=contract_values(row), effective=LimitsOut.of(limits)
    )


@router.put("/contracts/users/{username}", response_model=ContractOut)
async def put_user_contract(
    username: UsernamePath, body: UserContractIn, _: AdminDep, state: StateDep, session: SessionDep
) -> ContractOut:
    """Sets the fields sent (null: inherit the global default); the others stay."""
    repo = ContractRepository(session)
    row = await repo.put_user_contract(username, body.model_dump(exclude_unset=True))
    limits = await state.contracts.user_limits(repo, username)
    return ContractOut(
        subject=username, contract=contract_values(row), effective=LimitsOut.of(limits)
    )


@router.get("/contracts/namespaces/{namespace}", response_model=ContractOut)
async def get_namespace_contract(
    namespace: NamespacePath, _: CallerDep, state: StateDep, session: SessionDep
) -> ContractOut:
    """Any signed-in user may read a namespace's contract."""
    repo = ContractRepository(session)
    row = await repo.namespace_contract(namespace)
    limits = await state.contracts.namespace_limits(repo, namespace)
    return ContractOut(
        subject=namespace, contract=contract_values(row), effective=LimitsOut.of(limits)
    )


@router.put("/contracts/namespaces/{namespace}", response_model=ContractOut)
async def put_namespace_contract(
    namespace: NamespacePath,
    body: NamespaceContractIn,
    _: AdminDep,
    state: StateDep,
    session: SessionDep,
) -> ContractOut:
    repo = ContractRepository(session)
    row = await repo.put_namespace_contract(namespace, body.model_dump(exclude_unset=True))
    limits = await state.contracts.namespace_limits(repo, namespace)
    return ContractOut(
        subject=namespace, contract=contract_values(row), effective=LimitsOut.of(limits)
    )


@router.get("/usage/users/{username}", response_model=UsageOut)
async def get_user_usage(
    username: UsernamePath, caller: CallerDep, state: StateDep, session: SessionDep
) -> UsageOut:
    caller.require_self_or_admin(username)
    repo = ContractRepository(session)
    usage = await repo.usage(owner=username)
    limits = await state.contracts.user_limits(repo, username)
    length = state.settings.rate_limit_window_seconds
    requests, tokens = await repo.rate_counts(username, window_of(time.time(), length))
    rate = RateUsageOut(
        window_seconds=length,
        requests=UsedOut(used=requests, limit=_scaled(limits.requests_per_minute, length)),
        tokens=UsedOut(used=tokens, limit=_scaled(limits.tokens_per_minute, length)),
    )
    return UsageOut.of(username, usage, limits, rate)


def _scaled(per_minute: int | None, length: float) -> int | None:
    return None if per_minute is None else scaled(per_minute, length)


@router.get("/usage/namespaces/{namespace}", response_model=UsageOut)
async def get_namespace_usage(
    namespace: NamespacePath, caller: CallerDep, state: StateDep, session: SessionDep
) -> UsageOut:
    """Admins, and users whose contract allows the namespace."""
    repo = ContractRepository(session)
    if not caller.is_admin:
        allowed = (await state.contracts.user_limits(repo, caller.username)).allowed_namespaces
        if allowed is not None and namespace not in allowed:
            raise ForbiddenError(f"namespace {namespace!r} is not one of yours")
    usage = await repo.usage(namespace=namespace)
    limits = await state.contracts.namespace_limits(repo, namespace)
    return UsageOut.of(namespace, usage, limits)
