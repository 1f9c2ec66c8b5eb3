"""AdmissionReview → plan → response, as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from inference_common.modelserve import SERVER_UUID_LABEL
from inference_contract.admission import (
    Allow,
    Deny,
    MalformedReviewError,
    Reserve,
    Resize,
    decided,
    denied,
    parse_review,
    plan,
    principal_of,
)
from inference_contract.facts import Principal
from inference_contract.policy import Decision, Finding, Reason

SPEC = {
    "model": {"name": "m", "source": {"pvc": {"claimName": "c", "path": "m.gguf"}}},
    "replicas": 2,
    "gpu": {"count": 1, "product": "NVIDIA-GeForce-RTX-4090"},
}
ADMINS = ["system:masters"]


def _obj(
    spec: dict[str, Any] | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "s1", "namespace": "team"}
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": "inference-service.dev/v1alpha1",
        "kind": "ModelServe",
        "metadata": metadata,
        "spec": spec if spec is not None else SPEC,
    }


def _review(
    operation: str = "CREATE",
    obj: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    user: str = "alice",
    groups: list[str] | None = None,
    sub_resource: str | None = None,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "uid": "u-1",
        "operation": operation,
        "namespace": "team",
        "name": "s1",
        "userInfo": {"username": user, "groups": groups or ["system:authenticated"]},
        "object": obj if obj is not None else _obj(),
        "oldObject": old,
    }
    if sub_resource:
        request["subResource"] = sub_resource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def _plan(body: dict[str, Any], exempt: tuple[str, ...] = ("system:operator",)) -> object:
    return plan(parse_review(body), ADMINS, exempt, {"NVIDIA-GeForce-RTX-4090": 24}, 16)


def _scale(replicas: object) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "s1", "namespace": "team"},
        "spec": {"replicas": replicas},
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_review(), Reserve),
        (_review(user="system:operator"), Allow),
        (_review("DELETE"), Allow),
        (_review("UPDATE", old=_obj()), Allow),  # spec unchanged: metadata only
        (_review("UPDATE", obj=_obj({**SPEC, "replicas": 3}), old=_obj()), Reserve),
        (
            _review("UPDATE", obj=_obj(labels={SERVER_UUID_LABEL: "x"}), old=_obj()),
            Deny,
        ),
        (_review(obj=_obj({"replicas": 1})), Deny),  # no model: invalid spec
        (_review("UPDATE", obj=_scale(4), old=_scale(2), sub_resource="scale"), Resize),
        (_review("UPDATE", obj=_scale(-1), old=_scale(2), sub_resource="scale"), Deny),
        (_review("UPDATE", obj=_obj(), old=_obj(), sub_resource="status"), Allow),
    ],
)
def test_plan(body: dict[str, Any], expected: type) -> None:
    assert isinstance(_plan(body), expected)


def test_create_plan_carries_the_server() -> None:
    step = _plan(_review(groups=["system:masters"]))
    assert isinstance(step, Reserve)
    assert step.principal == Principal("alice", is_admin=True)
    assert (step.request.namespace, step.request.name, step.request.replicas) == ("team", "s1", 2)
    assert step.request.gpu_memory_gib_per_gpu == 24
    assert step.is_create
    assert step.server_uuid_label is None


def test_scale_plan_carries_the_replicas() -> None:
    step = _plan(_review("UPDATE", obj=_scale(4), old=_scale(2), sub_resource="scale"))
    assert step == Resize(Principal("alice"), "team", "s1", 4)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"username": "alice", "groups": []}, Principal("alice")),
        ({"username": "root", "groups": ["system:masters"]}, Principal("root", True)),
        ({"username": "system:serviceaccount:team:ci", "groups": []}, Principal(None)),
        ({}, Principal(None)),
    ],
)
def test_principal_of(user: dict[str, Any], expected: Principal) -> None:
    assert principal_of(user, ADMINS) == expected


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"kind": "Pod"},
        {"kind": "AdmissionReview"},
        {"kind": "AdmissionReview", "request": {"uid": 5}},
        {"kind": "AdmissionReview", "request": {"uid": "u", "object": []}},
    ],
)
def test_malformed_reviews(body: Any) -> None:
    with pytest.raises(MalformedReviewError):
        parse_review(body)


def test_refusal_names_every_rule_and_keeps_warnings() -> None:
    decision = Decision(
        (
            Finding(Reason.SERVER_QUOTA, "user 'alice' would hold 6 servers", "user"),
            Finding(Reason.IMAGE_NOT_ALLOWED, "image 'x' is not allowed", "user"),
        ),
        (Finding(Reason.NEAR_QUOTA, "namespace 'team' will hold 9 of 10 GPUs", "namespace"),),
    )
    response = decided("u-1", decision)["response"]
    assert response["uid"] == "u-1"
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert "server_quota_exceeded" in response["status"]["message"]
    assert "image_not_allowed" in response["status"]["message"]
    assert response["warnings"] == ["near_quota: namespace 'team' will hold 9 of 10 GPUs"]


def test_allowed_answer_has_no_status() -> None:
    body = decided("u-2", Decision())
    assert body["kind"] == "AdmissionReview"
    assert body["response"] == {"uid": "u-2", "allowed": True}


def test_denied_answer() -> None:
    response = denied("u-3", Deny("invalid_spec", "spec: bad", 422))["response"]
    assert response["status"]["code"] == 422
    assert response["status"]["reason"] == "Invalid"
    assert response["status"]["message"] == "contract: invalid_spec: spec: bad"


@pytest.mark.parametrize(
    ("decision_status", "admission", "reason"),
    [(403, 403, "Forbidden"), (409, 403, "Forbidden"), (422, 422, "Invalid")],
)
def test_quota_refusals_reach_the_apiserver_as_403_never_a_retried_409(
    decision_status: int, admission: int, reason: str
) -> None:
    code = {403: Reason.IMAGE_NOT_ALLOWED, 409: Reason.GPU_QUOTA, 422: Reason.PARALLEL_LIMIT}
    decision = Decision((Finding(code[decision_status], "m", "user"),))
    assert decision.status_code == decision_status
    status = decided("u", decision)["response"]["status"]
    assert (status["code"], status["reason"]) == (admission, reason)
    assert status["details"]["causes"][0]["field"] == "spec"
