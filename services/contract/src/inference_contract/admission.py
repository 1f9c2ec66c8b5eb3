"""AdmissionReview v1 for ModelServes, as pure functions: what a review asks (`plan`) and
the answer to send (`review_response`). The webhook route does the I/O between them.

Principals: the request's `userInfo.username` is the platform user of that name; a service
account (`system:serviceaccount:<ns>:<name>`) acts for its namespace only; members of the
admin groups act as admins (admin-only flags).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from inference_common.modelserve import SERVER_UUID_LABEL, ModelServeSpec
from inference_contract.facts import Principal, ServerRequest, aliases_of, server_request
from inference_contract.policy import Decision, Reason

ADMISSION_API_VERSION = "admission.k8s.io/v1"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
MAX_WARNING_LENGTH = 240


class MalformedReviewError(ValueError):
    """Not an AdmissionReview v1 request this webhook can read."""


@dataclass(frozen=True)
class Allow:
    reason: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deny:
    code: Reason | str
    message: str
    status: int = 403


@dataclass(frozen=True)
class Reserve:
    """CREATE or a spec UPDATE: check (and unless dry-run, hold) the whole server."""

    principal: Principal
    request: ServerRequest
    server_uuid_label: str | None
    is_create: bool


@dataclass(frozen=True)
class Resize:
    principal: Principal
    namespace: str
    name: str
    replicas: int


Plan = Allow | Deny | Reserve | Resize


@dataclass(frozen=True)
class Review:
    uid: str
    operation: str
    sub_resource: str
    namespace: str
    name: str
    user: Mapping[str, Any]
    obj: Mapping[str, Any]
    old: Mapping[str, Any]
    dry_run: bool


def parse_review(body: Any) -> Review:
    if not isinstance(body, Mapping) or body.get("kind") != "AdmissionReview":
        raise MalformedReviewError("expected an AdmissionReview")
    request = body.get("request")
    if not isinstance(request, Mapping) or not isinstance(request.get("uid"), str):
        raise MalformedReviewError("AdmissionReview.request.uid is missing")
    obj, old, user = (
        {} if request.get(key) is None else request[key]
        for key in ("object", "oldObject", "userInfo")
    )
    if not all(isinstance(x, Mapping) for x in (obj, old, user)):
        raise MalformedReviewError("object, oldObject and userInfo must be objects")
    metadata = obj.get("metadata") or {}
    return Review(
        uid=request["uid"],
        operation=str(request.get("operation", "")),
        sub_resource=str(request.get("subResource") or ""),
        namespace=str(request.get("namespace") or metadata.get("namespace") or ""),
        name=str(request.get("name") or metadata.get("name") or ""),
        user=user,
        obj=obj,
        old=old,
        dry_run=bool(request.get("dryRun")),
    )


def principal_of(user: Mapping[str, Any], admin_groups: Collection[str]) -> Principal:
    username = str(user.get("username") or "")
    groups = user.get("groups") or []
    is_admin = any(g in admin_groups for g in groups)
    if username.startswith(SERVICE_ACCOUNT_PREFIX) or not username:
        return Principal(None, is_admin)
    return Principal(username, is_admin)


def _aliases(obj: Mapping[str, Any]) -> tuple[str, ...]:
    return aliases_of((obj.get("metadata") or {}).get("annotations"))


def _label(obj: Mapping[str, Any]) -> str | None:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(SERVER_UUID_LABEL)
    return str(value) if value else None


def plan(
    review: Review,
    admin_groups: Collection[str],
    exempt_users: Collection[str],
    product_memory: Mapping[str, int],
    default_gib: int,
) -> Plan:
    """What the review needs; no I/O."""
    principal = principal_of(review.user, admin_groups)
    if review.user.get("username") in exempt_users:
        return Allow("exempt user")
    if review.sub_resource == "scale":
        if review.operation != "UPDATE":
            return Allow("not a scale update")
        replicas = (review.obj.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            return Deny("invalid_scale", "scale spec.replicas must be a non-negative integer", 422)
        return Resize(principal, review.namespace, review.name, replicas)
    if review.sub_resource:
        return Allow(f"subresource {review.sub_resource} is not checked")
    if review.operation not in ("CREATE", "UPDATE"):
        return Allow(f"{review.operation} is not checked")
    label = _label(review.obj)
    if review.operation == "UPDATE":
        if label != _label(review.old):
            return Deny(Reason.SERVER_UUID_NOT_ISSUED, f"label {SERVER_UUID_LABEL} may not change")
        if review.obj.get("spec") == review.old.get("spec") and _aliases(review.obj) == _aliases(
            review.old
        ):
            return Allow("spec and aliases unchanged")
    try:
        spec = ModelServeSpec.model_validate(review.obj.get("spec") or {})
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid spec"}
        return Deny("invalid_spec", f"spec: {first['msg']}", 422)
    request = server_request(
        review.namespace, review.name, spec, product_memory, default_gib, _aliases(review.obj)
    )
    return Reserve(principal, request, label, review.operation == "CREATE")


def _short(text: str) -> str:
    return text if len(text) <= MAX_WARNING_LENGTH else text[: MAX_WARNING_LENGTH - 1] + "…"


def decision_warnings(decision: Decision) -> tuple[str, ...]:
    return tuple(_short(f"{w.code.value}: {w.message}") for w in decision.warnings)


def review_response(
    uid: str,
    allowed: bool,
    *,
    message: str = "",
    code: int = 200,
    reason: str = "",
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The AdmissionReview answer; a refusal's message names the rule(s)."""
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        response["status"] = {
            "code": code,
            "message": message,
            "reason": "Forbidden" if code == 403 else "Invalid" if code == 422 else "Conflict",
            # kubectl prints an Invalid refusal as "The request is invalid: <field>: <message>"
            "details": (
                {"causes": [{"reason": reason, "message": message, "field": "spec"}]}
                if reason
                else {}
            ),
        }
    if warnings:
        response["warnings"] = list(warnings)
    return {"apiVersion": ADMISSION_API_VERSION, "kind": "AdmissionReview", "response": response}


def admission_status(status_code: int) -> int:
    """A quota refusal is 403 to the apiserver, as ResourceQuota's own ("exceeded quota"):
    kubectl retries a 409 as an update conflict (`kubectl scale` for a minute)."""
    return 403 if status_code == 409 else status_code


def decided(uid: str, decision: Decision, warnings: Sequence[str] = ()) -> dict[str, Any]:
    """The answer of a policy decision (all violations in the message), with any `warnings`
    of the caller's own."""
    if decision.allowed:
        return review_response(uid, True, warnings=(*decision_warnings(decision), *warnings))
    codes = ",".join(v.code.value for v in decision.violations)
    return review_response(
        uid,
        False,
        message=f"contract: {decision.message}",
        code=admission_status(decision.status_code),
        reason=codes,
        warnings=(*decision_warnings(decision), *warnings),
    )


def denied(uid: str, deny: Deny) -> dict[str, Any]:
    code = deny.code.value if isinstance(deny.code, Reason) else deny.code
    return review_response(
        uid, False, message=f"contract: {code}: {deny.message}", code=deny.status, reason=code
    )
