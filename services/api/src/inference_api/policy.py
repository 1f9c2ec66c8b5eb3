"""Serving policy: may this user run (or resize) this server? The contract service decides
and counts (`services/contract`): the API reserves before it creates a ModelServe, resizes
before it scales one and releases when it stops one.

Refusals come back as the contract service's 403 / 409 / 422 with its decision in `detail`
(every violated rule, machine-readable codes) and the first code as `detail.rule`. The
contract service unreachable or failing is a 503 naming it: the API fails closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from inference_common.auth import TokenSigner
from inference_common.errors import (
    AppError,
    ConflictError,
    ForbiddenError,
    UnavailableError,
    UnprocessableError,
    dependency_unavailable,
)
from inference_common.modelserve import ModelServeSpec

logger = logging.getLogger(__name__)

CONTRACT_SERVICE = "contract service"

_REFUSALS: dict[int, type[AppError]] = {
    403: ForbiddenError,
    409: ConflictError,
    422: UnprocessableError,
}


@dataclass(frozen=True)
class Principal:
    """The platform user a decision is for (no ORM rows, no HTTP)."""

    user_id: str
    username: str
    role: str


@dataclass(frozen=True)
class Admission:
    """An allowed request: what the contract service warned about (e.g. near a quota)."""

    warnings: tuple[str, ...] = ()


class ServePolicy(Protocol):
    async def reserve(
        self,
        principal: Principal,
        namespace: str,
        name: str,
        spec: ModelServeSpec,
        server_uuid: str,
    ) -> Admission:
        """Checks and holds the server's resources; raises an AppError naming the rule."""

    async def resize(
        self, principal: Principal, namespace: str, name: str, replicas: int
    ) -> Admission | None:
        """New replicas for a held server; None when nothing is held for it."""

    async def release(self, principal: Principal, namespace: str, name: str) -> bool:
        """Frees what the server held; False when nothing was held."""


def refusal_error(status_code: int, body: Any) -> AppError:
    """A refusal of the contract service as the API's error: same status, same message,
    its decision passed through in `detail` with the first violated rule as `rule`."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    message = str(error.get("message") or f"refused by the {CONTRACT_SERVICE}")
    detail = error.get("detail")
    if isinstance(detail, dict):
        violations = detail.get("violations") or []
        if violations and isinstance(violations[0], dict) and "code" in violations[0]:
            detail = {**detail, "rule": violations[0]["code"]}
    return _REFUSALS.get(status_code, ForbiddenError)(message, detail)


def warnings_of(body: Any) -> tuple[str, ...]:
    decision = body.get("decision") if isinstance(body, dict) else None
    found = decision.get("warnings") if isinstance(decision, dict) else None
    return tuple(f"{w.get('code')}: {w.get('message')}" for w in found or [] if isinstance(w, dict))


def _unavailable(why: str, status: int | None = None) -> UnavailableError:
    error = dependency_unavailable(CONTRACT_SERVICE)
    error.detail = {**error.detail, "reason": why, **({"status": status} if status else {})}
    return error


@dataclass(frozen=True)
class ContractServePolicy:
    """Calls the contract service as the requesting user: a short-lived token for them from
    the API's own signer (the contract service verifies the API's tokens)."""

    http: httpx.AsyncClient
    signer: TokenSigner

    def _headers(self, principal: Principal) -> dict[str, str]:
        token = self.signer.issue(principal.user_id, principal.username, principal.role)
        return {"Authorization": f"Bearer {token}"}

    async def _call(
        self, method: str, path: str, principal: Principal, json: Any = None
    ) -> httpx.Response:
        try:
            response = await self.http.request(
                method, path, json=json, headers=self._headers(principal)
            )
        except httpx.TimeoutException as exc:
            raise _unavailable("timed out") from exc
        except httpx.TransportError as exc:
            raise _unavailable(f"unreachable ({type(exc).__name__})") from exc
        if response.status_code in _REFUSALS:
            raise refusal_error(response.status_code, _json(response))
        if response.status_code >= 400 and response.status_code != 404:
            raise _unavailable(f"answered {response.status_code}", response.status_code)
        return response

    async def reserve(
        self,
        principal: Principal,
        namespace: str,
        name: str,
        spec: ModelServeSpec,
        server_uuid: str,
    ) -> Admission:
        body = {
            "namespace": namespace,
            "name": name,
            "spec": spec.to_k8s(),
            "server_uuid": server_uuid,
        }
        response = await self._call("POST", "/reservations", principal, body)
        if response.status_code == 404:
            raise _unavailable("answered 404 to a reservation", 404)
        return Admission(warnings_of(_json(response)))

    async def resize(
        self, principal: Principal, namespace: str, name: str, replicas: int
    ) -> Admission | None:
        body = {"namespace": namespace, "name": name, "replicas": replicas}
        response = await self._call("POST", "/reservations/resize", principal, body)
        if response.status_code == 404:
            return None
        return Admission(warnings_of(_json(response)))

    async def release(self, principal: Principal, namespace: str, name: str) -> bool:
        response = await self._call("DELETE", f"/reservations/{namespace}/{name}", principal)
        return response.status_code != 404


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def contract_client(base_url: str, timeout_seconds: float) -> httpx.AsyncClient:
    """The API's one client of the contract service: bounded connect and read times, so a
    stalled contract service becomes a 503, never a hung serve."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 2.0)),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
    )
