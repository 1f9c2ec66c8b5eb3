"""POST /admission/modelserves: the validating webhook (AdmissionReview v1) for ModelServe
CREATE, UPDATE and the scale subresource. Creates and updates reserve (unless dry-run), so
kubectl and the API count against the same quotas in the same transactions."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Body, Request
from sqlalchemy.ext.asyncio import AsyncSession

from inference_common.errors import BadRequestError, ForbiddenError
from inference_contract import metrics
from inference_contract.admission import (
    Allow,
    Deny,
    MalformedReviewError,
    Reserve,
    Resize,
    Review,
    decided,
    denied,
    parse_review,
    plan,
    review_response,
)
from inference_contract.contracts import Facts
from inference_contract.deps import SessionDep, StateDep
from inference_contract.facts import Principal
from inference_contract.policy import Reason
from inference_contract.repository import ContractRepository, Held
from inference_contract.state import AppState

router = APIRouter(tags=["admission"])


async def _reserve(
    state: AppState, session: AsyncSession, uid: str, step: Reserve, dry_run: bool
) -> dict[str, Any]:
    request = step.request
    held = None
    if not step.is_create or step.server_uuid_label is not None:
        held = await ContractRepository(session).reservation(Held(request.namespace, request.name))
    if step.is_create and step.server_uuid_label is not None:
        if held is None or held.server_uuid != step.server_uuid_label:
            return denied(
                uid,
                Deny(
                    Reason.SERVER_UUID_NOT_ISSUED,
                    f"server uuid {step.server_uuid_label!r} was not issued by the API for "
                    f"{request.namespace}/{request.name}",
                ),
            )
        return review_response(uid, True)  # reserved by the API moments ago
    owner = held.owner if held is not None and not step.is_create else step.principal.username
    principal = Principal(owner, step.principal.is_admin)
    facts, warnings = _children(state, request.namespace, request.name, step.is_create)
    if dry_run:
        decision = await state.contracts.evaluate(session, principal, request, facts)
        return decided(uid, decision, warnings)
    outcome = await state.contracts.reserve(
        session,
        principal,
        request,
        server_uuid=step.server_uuid_label or (held.server_uuid if held else None),
        source="admission",
        facts=facts,
    )
    return decided(uid, outcome.decision, warnings)


def _children(
    state: AppState, namespace: str, name: str, is_create: bool
) -> tuple[Facts | None, tuple[str, ...]]:
    """A new name's children the operator does not own (a name never changes: creates
    only), from the informers' caches; a kind not listed yet is a warning (the operator's
    own ChildNotOwned check remains)."""
    if not is_create or state.child_names is None:
        return None, ()
    found = state.child_names.check(namespace, name)
    warnings = (
        (f"child names not checked yet: {', '.join(found.unchecked)}",) if found.unchecked else ()
    )
    return Facts(foreign_children=found.foreign), warnings


async def _resize(
    state: AppState, session: AsyncSession, uid: str, step: Resize, dry_run: bool
) -> dict[str, Any]:
    outcome = await state.contracts.resize(
        session, step.principal, Held(step.namespace, step.name), step.replicas, dry_run=dry_run
    )
    if outcome is None:
        warning = f"{step.namespace}/{step.name} is not counted yet: scale not checked"
        return review_response(uid, True, warnings=[warning])
    return decided(uid, outcome.decision)


@router.post("/admission/modelserves", responses={400: {}, 403: {}})
async def admit_modelserve(
    request: Request,
    state: StateDep,
    session: SessionDep,
    body: dict[str, Any] = Body(...),  # noqa: B008
) -> dict[str, Any]:
    """Called by the apiserver over HTTPS (the TLS listener only: a review on the plain
    port would let any local caller reserve as anyone); allowed true or false."""
    if request.url.scheme != "https":
        raise ForbiddenError("the admission webhook is served on the HTTPS listener only")
    try:
        review = parse_review(body)
    except MalformedReviewError as exc:
        raise BadRequestError(str(exc)) from exc
    started = time.perf_counter()
    answer = await _answer(state, session, review)
    metrics.review_answered(review.operation, answer, time.perf_counter() - started)
    return answer


async def _answer(state: AppState, session: AsyncSession, review: Review) -> dict[str, Any]:
    settings = state.settings
    step = plan(
        review,
        settings.admin_groups,
        settings.exempt_users,
        settings.gpu_memory_gib,
        settings.default_gpu_memory_gib,
    )
    if isinstance(step, Allow):
        return review_response(review.uid, True, warnings=step.warnings)
    if isinstance(step, Deny):
        return denied(review.uid, step)
    if isinstance(step, Resize):
        return await _resize(state, session, review.uid, step, review.dry_run)
    return await _reserve(state, session, review.uid, step, review.dry_run)
