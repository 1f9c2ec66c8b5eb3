"""Whose an existing child is: only an object owned by this very ModelServe is written over."""

from __future__ import annotations

from typing import Any

import pytest

from modelserve_operator.ownership import NOT_OWNED, owned_by, refusal

DESIRED = {"kind": "Service", "metadata": {"name": "sm", "namespace": "ns"}}


def ref(uid: str, name: str = "sm", kind: str = "ModelServe", controller: bool = True) -> Any:
    return {"kind": kind, "name": name, "uid": uid, "controller": controller}


def observed(*refs: Any) -> dict[str, Any]:
    return {"metadata": {"name": "sm", "ownerReferences": list(refs)}}


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        (None, None),  # absent: may be created
        (observed(ref("uid-1")), None),
        ({"metadata": {"name": "sm"}}, ("fatal", "not owned by this ModelServe")),
        (observed(ref("uid-1", controller=False)), ("fatal", "not owned")),
        (observed(ref("uid-9", name="other")), ("fatal", "not owned")),
        (observed(ref("uid-9", kind="Deployment")), ("fatal", "not owned")),
        (observed(ref("uid-0")), ("passing", "earlier ModelServe of this name")),
    ],
)
def test_refusal(seen: Any, expected: tuple[str, str] | None) -> None:
    problem = refusal(DESIRED, seen, "sm", "uid-1")
    if expected is None:
        assert problem is None
        return
    assert problem is not None
    severity, text = expected
    assert problem.reason == NOT_OWNED
    assert problem.fatal is (severity == "fatal")
    assert text in problem.message
    assert problem.message.startswith("Service sm ")


def test_owned_by_needs_the_controller_reference() -> None:
    assert owned_by(observed(ref("uid-1")), "uid-1")
    assert not owned_by(observed(ref("uid-1", controller=False)), "uid-1")
    assert not owned_by({}, "uid-1")
