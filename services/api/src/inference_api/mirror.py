"""ModelServe objects → server rows (pure): what the status watch writes to Postgres."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from inference_common.modelserve import Phase, endpoint_path, server_uuid_of


@dataclass(frozen=True)
class MirroredServer:
    server_uuid: UUID
    name: str
    namespace: str
    model_name: str
    model_uuid: UUID | None
    replicas: int
    gpu: dict[str, Any]
    runtime: dict[str, Any]
    phase: str
    ready_replicas: int
    endpoint: str
    conditions: list[dict[str, Any]]
    reasons: list[str]
    deleted: bool


def _uuid_or_none(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


_PHASES = frozenset(p.value for p in Phase)


def mirrored_server(obj: Mapping[str, Any], deleted: bool = False) -> MirroredServer | None:
    """The server row of a ModelServe object, None when it carries no usable identity.

    The uuid is the one the operator routes it at (status.serverUuid: the API-issued uuid only
    when the API's signature checks out), before that the claimed label or the uid."""
    metadata = _dict(obj.get("metadata"))
    status = _dict(obj.get("status"))
    try:
        server_uuid = _uuid_or_none(status.get("serverUuid")) or UUID(server_uuid_of(metadata))
    except ValueError:
        return None
    spec = _dict(obj.get("spec"))
    model = _dict(spec.get("model"))
    phase = status.get("phase")
    if deleted:
        phase = Phase.STOPPED.value
    elif phase not in _PHASES:
        phase = Phase.PENDING.value
    conditions = [dict(c) for c in status.get("conditions") or [] if isinstance(c, Mapping)]
    return MirroredServer(
        server_uuid=server_uuid,
        name=str(metadata.get("name", ""))[:253],
        namespace=str(metadata.get("namespace", ""))[:63],
        model_name=str(model.get("name", ""))[:256],
        model_uuid=_uuid_or_none(model.get("uuid")),
        replicas=_int(spec.get("replicas"), 1),
        gpu=_dict(spec.get("gpu")),
        runtime=_dict(spec.get("runtime")),
        phase=str(phase),
        ready_replicas=0 if deleted else _int(status.get("readyReplicas")),
        endpoint=str(status.get("endpoint") or endpoint_path(str(server_uuid))),
        conditions=conditions,
        reasons=reasons(conditions),
        deleted=deleted,
    )


def reasons(conditions: Iterable[Mapping[str, Any]]) -> list[str]:
    """Why a server is not (fully) ready: 'Reason: message' of each condition not True."""
    out: list[str] = []
    for condition in conditions:
        if condition.get("status") == "True":
            continue
        reason = condition.get("reason")
        message = condition.get("message")
        if reason and message:
            out.append(f"{reason}: {message}")
        elif reason or message:
            out.append(str(reason or message))
    return out
