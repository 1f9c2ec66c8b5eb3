"""Whose an existing object is: the operator writes over a child only when the child carries
its controller ownerReference to this very ModelServe (by uid); anything else is left alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelserve_operator.kinds import MODELSERVE
from modelserve_operator.status import Problem

NOT_OWNED = "ChildNotOwned"


def owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("uid") == uid and ref.get("controller") for ref in refs)


def refusal(
    desired: Mapping[str, Any], observed: Mapping[str, Any] | None, owner_name: str, uid: str
) -> Problem | None:
    """Why `desired` must not be written over `observed`; None when it may (absent or ours).

    A child of an earlier ModelServe of the same name (deleted, not yet garbage-collected) is
    a passing state; any other owner, or none, is a conflict for a person to resolve."""
    if observed is None or owned_by(observed, uid):
        return None
    what = f"{desired['kind']} {desired['metadata']['name']}"
    refs = (observed.get("metadata") or {}).get("ownerReferences") or []
    earlier = any(
        ref.get("kind") == MODELSERVE.kind
        and ref.get("name") == owner_name
        and ref.get("controller")
        for ref in refs
    )
    if earlier:
        return Problem(
            NOT_OWNED,
            f"{what} belongs to an earlier ModelServe of this name; "
            "waiting for its garbage collection",
            fatal=False,
        )
    return Problem(
        NOT_OWNED,
        f"{what} exists and is not owned by this ModelServe: left untouched "
        "(delete or rename it, or rename the ModelServe)",
        fatal=True,
    )
