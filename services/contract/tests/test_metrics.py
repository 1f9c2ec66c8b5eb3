"""The contract service's metrics: label choices and quota series (pure), then the series
of an in-process app after real admission reviews and reservations (the stack's Postgres)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from inference_contract.admission import Deny, denied, review_response
from inference_contract.limits import Limits
from inference_contract.metrics import (
    UNSPECIFIED_REASON,
    QuotaSample,
    UsageRow,
    operation_label,
    quota_samples,
    review_outcome,
)
from inference_contract.policy import Reason
from inference_testkit.metrics import parse_samples, value
from inference_testkit.waiting import async_wait_for

from .conftest import ContractFactory, Users, modelserve_spec


@pytest.mark.parametrize(
    ("answer", "allowed", "reasons"),
    [
        (review_response("u", True), True, []),
        (
            denied("u", Deny(Reason.SERVER_UUID_NOT_ISSUED, "no")),
            False,
            ["server_uuid_not_issued"],
        ),
        (
            review_response(
                "u", False, message="m", reason="server_quota_exceeded,gpu_quota_exceeded"
            ),
            False,
            ["server_quota_exceeded", "gpu_quota_exceeded"],
        ),
        (review_response("u", False, message="m"), False, [UNSPECIFIED_REASON]),
        ({}, False, [UNSPECIFIED_REASON]),
    ],
)
def test_review_outcome_names_every_rule_broken(
    answer: dict[str, Any], allowed: bool, reasons: list[str]
) -> None:
    assert review_outcome(answer) == (allowed, reasons)


@pytest.mark.parametrize(
    ("operation", "label"),
    [
        ("CREATE", "CREATE"),
        ("UPDATE", "UPDATE"),
        ("DELETE", "DELETE"),
        ("", "other"),
        ("X" * 99, "other"),
    ],
)
def test_operation_labels_are_bounded(operation: str, label: str) -> None:
    assert operation_label(operation) == label


def _limits(servers: int | None, gpus: int | None = None) -> Limits:
    return Limits(max_servers=servers, max_gpus=gpus)


@pytest.mark.parametrize(
    ("held", "users", "spaces", "cap", "expected"),
    [
        (
            [UsageRow("alice", "team", 2, 4, 96), UsageRow("alice", "lab", 1, 0, 0)],
            {"alice": _limits(10, 8)},
            {"team": _limits(None), "lab": _limits(None)},
            10,
            {
                ("user", "alice", "servers"): (3, 10),
                ("user", "alice", "gpus"): (4, 8),
                ("user", "alice", "gpu_memory_gib"): (96, None),
                ("namespace", "team", "servers"): (2, None),
                ("namespace", "team", "gpus"): (4, None),
                ("namespace", "team", "gpu_memory_gib"): (96, None),
                ("namespace", "lab", "servers"): (1, None),
                ("namespace", "lab", "gpus"): (0, None),
                ("namespace", "lab", "gpu_memory_gib"): (0, None),
            },
        ),
        (  # a service account's servers count for the namespace only
            [UsageRow(None, "team", 1, 0, 0)],
            {},
            {"team": _limits(1)},
            10,
            {
                ("namespace", "team", "servers"): (1, 1),
                ("namespace", "team", "gpus"): (0, None),
                ("namespace", "team", "gpu_memory_gib"): (0, None),
            },
        ),
        (  # capped: the fullest subject is kept
            [UsageRow("bob", "a", 1, 0, 0), UsageRow("carol", "b", 9, 0, 0)],
            {"bob": _limits(10), "carol": _limits(10)},
            {"a": _limits(None), "b": _limits(None)},
            1,
            {
                ("user", "carol", "servers"): (9, 10),
                ("user", "carol", "gpus"): (0, None),
                ("user", "carol", "gpu_memory_gib"): (0, None),
            },
        ),
    ],
)
def test_quota_samples(
    held: list[UsageRow],
    users: dict[str, Limits],
    spaces: dict[str, Limits],
    cap: int,
    expected: dict[tuple[str, str, str], tuple[int, int | None]],
) -> None:
    samples = quota_samples(held, users, spaces, cap)
    assert {(s.scope, s.subject, s.resource): (s.used, s.limit) for s in samples} == expected
    assert all(isinstance(s, QuotaSample) for s in samples)


def _review(uid: str, namespace: str, user: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "operation": "CREATE",
            "namespace": namespace,
            "name": name,
            "userInfo": {"username": user, "groups": ["system:authenticated"]},
            "object": {"metadata": {"name": name}, "spec": modelserve_spec()},
        },
    }


async def test_admission_and_quota_series_after_real_traffic(
    contract_factory: ContractFactory, users: Users
) -> None:
    alice, auth = await users.new()
    namespace = f"team-{secrets.token_hex(3)}"
    _, admin = await users.new("admin")
    async with contract_factory() as contract:
        before = parse_samples((await contract.get("/metrics")).text)
        put = await contract.put(
            f"/contracts/users/{alice}",
            json={"allowed_namespaces": [namespace], "max_servers": 2},
            headers=admin,
        )
        assert put.status_code == 200, put.text
        reserve = {"namespace": namespace, "name": "a", "spec": modelserve_spec()}
        assert (await contract.post("/reservations", json=reserve, headers=auth)).status_code == 200
        webhook = "https://contract.test/admission/modelserves"  # the TLS listener's scheme
        refused = await contract.post(webhook, json=_review("r1", "not-allowed-ns", alice, "b"))
        allowed = await contract.post(webhook, json=_review("r2", namespace, alice, "c"))
        assert refused.json()["response"]["allowed"] is False
        assert allowed.json()["response"]["allowed"] is True, allowed.text

        user_servers = {"scope": "user", "subject": alice, "resource": "servers"}

        async def quota_seen() -> dict[Any, float] | None:
            samples = parse_samples((await contract.get("/metrics")).text)
            return samples if value(samples, "inference_quota_used", user_servers) == 2 else None

        after = await async_wait_for(quota_seen, timeout=30, what="alice's 2 servers in /metrics")

    assert value(after, "inference_quota_limit", user_servers) == 2
    assert value(after, "inference_quota_used", {"scope": "namespace", "subject": namespace}) == 2

    def grew(name: str, labels: dict[str, str]) -> float:
        return value(after, name, labels) - value(before, name, labels)

    assert (
        grew("inference_admission_reviews_total", {"operation": "CREATE", "allowed": "false"}) == 1
    )
    assert (
        grew("inference_admission_reviews_total", {"operation": "CREATE", "allowed": "true"}) == 1
    )
    assert grew("inference_admission_denials_total", {"reason": "namespace_not_allowed"}) == 1
    assert grew("inference_admission_duration_seconds_count", {"operation": "CREATE"}) == 2
