"""POST /evaluate (dry run) and the reservation endpoints the API calls: reserve, resize,
release."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy.ext.asyncio import AsyncSession

from inference_common.errors import (
    AppError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnprocessableError,
)
from inference_contract.deps import Caller, CallerDep, SessionDep, StateDep
from inference_contract.facts import Principal, ServerRequest, server_request
from inference_contract.policy import Decision
from inference_contract.repository import ContractRepository, Held
from inference_contract.schemas import (
    NAME_PATTERN,
    NAMESPACE_PATTERN,
    DecisionOut,
    ReservationOut,
    ReservedOut,
    ReserveIn,
    ResizeIn,
    ServeIn,
)
from inference_contract.state import AppState

router = APIRouter(tags=["decisions"])

_REFUSALS: dict[int, type[AppError]] = {
    403: ForbiddenError,
    409: ConflictError,
    422: UnprocessableError,
}


def refusal(decision: Decision) -> AppError:
    """A refused decision as the service's one error shape; detail carries every finding."""
    error = _REFUSALS.get(decision.status_code, ForbiddenError)
    return error(decision.message, DecisionOut.of(decision).model_dump())


def principal_of(body: ServeIn, caller: Caller) -> Principal:
    if body.principal is None:
        return Principal(caller.username, caller.is_admin)
    if not caller.is_admin and (
        body.principal.username != caller.username or body.principal.is_admin
    ):
        raise ForbiddenError("only admins may decide for another principal")
    return Principal(body.principal.username, body.principal.is_admin)


def request_of(body: ServeIn, state: AppState) -> ServerRequest:
    settings = state.settings
    return server_request(
        body.namespace,
        body.name,
        body.spec,
        settings.gpu_memory_gib,
        settings.default_gpu_memory_gib,
    )


@router.post("/evaluate", response_model=DecisionOut)
async def evaluate(
    body: ServeIn, caller: CallerDep, state: StateDep, session: SessionDep
) -> DecisionOut:
    """Would this ModelServe be admitted for this principal? Never reserves."""
    request = request_of(body, state)
    decision = await state.contracts.evaluate(session, principal_of(body, caller), request)
    return DecisionOut.of(decision)


@router.post(
    "/reservations",
    response_model=ReservedOut,
    responses={403: {}, 409: {}, 422: {}},
)
async def reserve(
    body: ReserveIn, caller: CallerDep, state: StateDep, session: SessionDep
) -> ReservedOut:
    """Checks and holds in one transaction: admitted servers never exceed a quota, however
    many requests race. Reserving (namespace, name) again replaces its reservation."""
    request = request_of(body, state)
    outcome = await state.contracts.reserve(
        session,
        principal_of(body, caller),
        request,
        server_uuid=body.server_uuid,
        source="api",
    )
    if outcome.reservation is None:
        raise refusal(outcome.decision)
    return ReservedOut(
        decision=DecisionOut.of(outcome.decision),
        reservation=ReservationOut.model_validate(outcome.reservation),
    )


async def _check_owner(session: AsyncSession, caller: Caller, held: Held) -> None:
    if caller.is_admin:
        return
    row = await ContractRepository(session).reservation(held)
    if row is not None and row.owner != caller.username:
        raise ForbiddenError("users may change only their own reservations")


@router.post("/reservations/resize", response_model=ReservedOut, responses={404: {}, 409: {}})
async def resize(
    body: ResizeIn, caller: CallerDep, state: StateDep, session: SessionDep
) -> ReservedOut:
    """New replicas for a held server; more replicas are checked against the quotas."""
    held = Held(body.namespace, body.name)
    await _check_owner(session, caller, held)
    outcome = await state.contracts.resize(
        session, Principal(caller.username, caller.is_admin), held, body.replicas
    )
    if outcome is None:
        raise NotFoundError(f"no reservation for {body.namespace}/{body.name}")
    if not outcome.decision.allowed or outcome.reservation is None:
        raise refusal(outcome.decision)
    return ReservedOut(
        decision=DecisionOut.of(outcome.decision),
        reservation=ReservationOut.model_validate(outcome.reservation),
    )


@router.delete("/reservations/{namespace}/{name}", status_code=204, responses={404: {}})
async def release(
    namespace: Annotated[str, Path(max_length=63, pattern=NAMESPACE_PATTERN)],
    name: Annotated[str, Path(max_length=253, pattern=NAME_PATTERN)],
    caller: CallerDep,
    session: SessionDep,
) -> Response:
    """Stop or delete: what the server held is free again."""
    held = Held(namespace, name)
    await _check_owner(session, caller, held)
    if not await ContractRepository(session).release(held):
        raise NotFoundError(f"no reservation for {namespace}/{name}")
    return Response(status_code=204)
