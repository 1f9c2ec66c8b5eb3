from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from inference_api.mirror import mirrored_server, reasons
from inference_common.modelserve import SERVER_UUID_LABEL

SERVER = "7f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
UID = "11111111-2222-4333-8444-555555555555"


def modelserve(labels: dict[str, str] | None = None, status: Any = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "smol", "namespace": "inference", "uid": UID, "labels": labels},
        "spec": {
            "model": {"name": "smollm2:135m", "uuid": "not-a-uuid"},
            "replicas": 2,
            "gpu": {"count": 1},
            "runtime": {"contextSize": 2048},
        },
    }
    if status is not None:
        obj["status"] = status
    return obj


def test_api_created_modelserve_uses_the_label() -> None:
    status = {
        "phase": "Ready",
        "readyReplicas": 2,
        "endpoint": f"/{SERVER}/",
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    row = mirrored_server(modelserve({SERVER_UUID_LABEL: SERVER}, status))
    assert row is not None
    assert row.server_uuid == UUID(SERVER)
    assert (row.phase, row.ready_replicas, row.replicas) == ("Ready", 2, 2)
    assert row.endpoint == f"/{SERVER}/"
    assert row.model_name == "smollm2:135m"
    assert row.model_uuid is None  # not a uuid → not linked
    assert row.runtime == {"contextSize": 2048}


def test_kubectl_modelserve_uses_the_uid_and_defaults() -> None:
    row = mirrored_server(modelserve())
    assert row is not None
    assert row.server_uuid == UUID(UID)
    assert (row.phase, row.ready_replicas) == ("Pending", 0)
    assert row.endpoint == f"/{UID}/"


@pytest.mark.parametrize(
    ("status", "deleted", "phase", "ready"),
    [
        ({"phase": "Bogus", "readyReplicas": "3"}, False, "Pending", 0),
        ({"phase": "Ready", "readyReplicas": 1}, True, "Stopped", 0),
        ({"phase": "Degraded", "readyReplicas": True}, False, "Degraded", 0),
    ],
)
def test_status_values_are_sanitised(
    status: dict[str, Any], deleted: bool, phase: str, ready: int
) -> None:
    row = mirrored_server(modelserve(status=status), deleted=deleted)
    assert row is not None
    assert (row.phase, row.ready_replicas, row.deleted) == (phase, ready, deleted)


@pytest.mark.parametrize(
    ("labels", "status_uuid", "expected"),
    [
        ({SERVER_UUID_LABEL: SERVER}, SERVER, SERVER),  # the operator trusts the API's uuid
        ({SERVER_UUID_LABEL: SERVER}, UID, UID),  # a claim the operator refused
        ({SERVER_UUID_LABEL: SERVER}, "not-a-uuid", SERVER),
        (None, None, UID),
    ],
)
def test_the_uuid_the_operator_routes_at_wins_over_the_label(
    labels: dict[str, str] | None, status_uuid: str | None, expected: str
) -> None:
    status = {"phase": "Pending"} if status_uuid is None else {"serverUuid": status_uuid}
    row = mirrored_server(modelserve(labels, status))
    assert row is not None
    assert row.server_uuid == UUID(expected)


def test_without_identity_nothing_is_mirrored() -> None:
    assert mirrored_server({"metadata": {"name": "x"}}) is None
    assert mirrored_server({"metadata": {"name": "x", "uid": "nope"}}) is None


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([], []),
        ([{"type": "Ready", "status": "True", "reason": "Ok"}], []),
        (
            [
                {
                    "type": "Scheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "Insufficient nvidia.com/gpu",
                }
            ],
            ["Unschedulable: Insufficient nvidia.com/gpu"],
        ),
        ([{"type": "Ready", "status": "Unknown", "reason": "Loading"}], ["Loading"]),
        ([{"type": "Ready", "status": "False"}], []),
    ],
)
def test_reasons(conditions: list[dict[str, Any]], expected: list[str]) -> None:
    assert reasons(conditions) == expected
