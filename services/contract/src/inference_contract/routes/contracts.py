"""GET/PUT /contracts/users/{username} and /contracts/namespaces/{namespace}; GET /usage/…."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path
from sqlalchemy.ext.asyncio import AsyncSession

from inference_common.errors import ForbiddenError
from inference_common.rate_windows import scaled, window_of
from inference_common.tables import NamespaceContract, UserContract
from inference_contract.contracts import Contracts
from inference_contract.deps import AdminDep, CallerDep, SessionDep, StateDep
from inference_contract.limits import Limits, effective
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
from inference_contract.state import AppState

router = APIRouter(tags=["contracts"])

UsernamePath = Annotated[str, Path(max_length=64, pattern=USERNAME_PATTERN)]
NamespacePath = Annotated[str, Path(max_length=63, pattern=NAMESPACE_PATTERN)]


@dataclass(frozen=True)
class _Subjects:
    """User or namespace contracts: how one is read and written, and what it inherits."""

    read: Callable[[ContractRepository, str], Awaitable[UserContract | NamespaceContract | None]]
    write: Callable[
        [ContractRepository, str, Mapping[str, Any]],
        Awaitable[UserContract | NamespaceContract],
    ]
    defaults: Callable[[Contracts], Limits]


USERS = _Subjects(
    ContractRepository.user_contract,
    ContractRepository.put_user_contract,
    lambda contracts: contracts.user_defaults,
)
NAMESPACES = _Subjects(
    ContractRepository.namespace_contract,
    ContractRepository.put_namespace_contract,
    lambda contracts: contracts.namespace_defaults,
)


def _contract_out(
    subjects: _Subjects, subject: str, row: UserContract | NamespaceContract | None, state: AppState
) -> ContractOut:
    stored = contract_values(row)
    limits = effective(stored, subjects.defaults(state.contracts))
    return ContractOut(subject=subject, contract=stored, effective=LimitsOut.of(limits))


async def _read(
    subjects: _Subjects, subject: str, state: AppState, session: AsyncSession
) -> ContractOut:
    row = await subjects.read(ContractRepository(session), subject)
    return _contract_out(subjects, subject, row, state)


async def _write(
    subjects: _Subjects,
    subject: str,
    body: NamespaceContractIn,
    state: AppState,
    session: AsyncSession,
) -> ContractOut:
    """Sets the fields sent (null: inherit the global default); the others stay."""
    values = body.model_dump(exclude_unset=True)
    row = await subjects.write(ContractRepository(session), subject, values)
    return _contract_out(subjects, subject, row, state)


@router.get("/contracts/users/{username}", response_model=ContractOut)
async def get_user_contract(
    username: UsernamePath, caller: CallerDep, state: StateDep, session: SessionDep
) -> ContractOut:
    """Admins read any user's contract, users their own."""
    caller.require_self_or_admin(username)
    return await _read(USERS, username, state, session)


@router.put("/contracts/users/{username}", response_model=ContractOut)
async def put_user_contract(
    username: UsernamePath, body: UserContractIn, _: AdminDep, state: StateDep, session: SessionDep
) -> ContractOut:
    """Sets the fields sent (null: inherit the global default); the others stay."""
    return await _write(USERS, username, body, state, session)


@router.get("/contracts/namespaces/{namespace}", response_model=ContractOut)
async def get_namespace_contract(
    namespace: NamespacePath, _: CallerDep, state: StateDep, session: SessionDep
) -> ContractOut:
    """Any signed-in user may read a namespace's contract."""
    return await _read(NAMESPACES, namespace, state, session)


@router.put("/contracts/namespaces/{namespace}", response_model=ContractOut)
async def put_namespace_contract(
    namespace: NamespacePath,
    body: NamespaceContractIn,
    _: AdminDep,
    state: StateDep,
    session: SessionDep,
) -> ContractOut:
    """Sets the fields sent (null: inherit the global default); the others stay."""
    return await _write(NAMESPACES, namespace, body, state, session)


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
