"""Who may see a server through the API and who may change it. Its owner and admins see and
change it (admins also the ModelServes applied with kubectl); a `namespace`-visible server is
also seen — read-only — by every user allowed in its namespace: their contract's
`allowed_namespaces`, else the global default `ALLOWED_NAMESPACES` (the rule the gateway
applies to who may use it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inference_common.server_identity import NAMESPACE
from inference_common.tables import Server, User, UserContract


def may_manage(row: Server, user: User) -> bool:
    """Stop, scale, change visibility."""
    return user.role == "admin" or (row.owner_id is not None and row.owner_id == user.id)


def shared_with(row: Server, namespaces: Iterable[str]) -> bool:
    return row.visibility == NAMESPACE and row.namespace in namespaces


def effective_namespaces(contract: Sequence[str] | None, default: Iterable[str]) -> frozenset[str]:
    """The contract's list where it sets one, else the global default."""
    return frozenset(default if contract is None else contract)


async def user_namespaces(
    session: AsyncSession, username: str, default: Iterable[str]
) -> frozenset[str]:
    result = await session.execute(
        select(UserContract.allowed_namespaces).where(UserContract.username == username)
    )
    return effective_namespaces(result.scalar_one_or_none(), default)
