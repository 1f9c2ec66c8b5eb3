"""How the contract service's answers become the API's (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from inference_api.policy import refusal_error, warnings_of
from inference_common.errors import ConflictError, ForbiddenError, UnprocessableError


def _refusal(code: str, message: str) -> dict[str, Any]:
    finding = {"code": code, "message": message, "scope": "user", "limit": 1, "requested": 2}
    return {
        "error": {
            "type": "conflict",
            "message": f"{code}: {message}",
            "detail": {
                "allowed": False,
                "status_code": 409,
                "message": f"{code}: {message}",
                "violations": [finding],
                "warnings": [],
            },
        }
    }


@pytest.mark.parametrize(
    ("status", "body", "error", "message", "rule"),
    [
        (
            409,
            _refusal("server_quota_exceeded", "user a would hold 2 servers"),
            ConflictError,
            "server_quota_exceeded: user a would hold 2 servers",
            "server_quota_exceeded",
        ),
        (
            403,
            _refusal("namespace_not_allowed", "namespace 'x' is not allowed"),
            ForbiddenError,
            "namespace_not_allowed: namespace 'x' is not allowed",
            "namespace_not_allowed",
        ),
        (
            422,
            _refusal("parallel_exceeded", "parallel slots 64 is above the limit"),
            UnprocessableError,
            "parallel_exceeded: parallel slots 64 is above the limit",
            "parallel_exceeded",
        ),
        (
            422,
            {"error": {"message": "name: bad", "detail": [{"loc": []}]}},
            UnprocessableError,
            "name: bad",
            None,
        ),
        (403, "not json", ForbiddenError, "refused by the contract service", None),
    ],
)
def test_refusals_keep_status_message_and_name_the_rule(
    status: int, body: Any, error: type[Exception], message: str, rule: str | None
) -> None:
    refused = refusal_error(status, body)
    assert type(refused) is error
    assert refused.message == message
    if rule is None:
        assert not isinstance(refused.detail, dict) or "rule" not in refused.detail
    else:
        assert refused.detail["rule"] == rule
        assert refused.detail["violations"][0]["code"] == rule


@pytest.mark.parametrize(
    ("body", "warnings"),
    [
        ({"decision": {"warnings": []}}, ()),
        (
            {"decision": {"warnings": [{"code": "near_quota", "message": "4 of 5 servers"}]}},
            ("near_quota: 4 of 5 servers",),
        ),
        (None, ()),
        ({"decision": "odd"}, ()),
    ],
)
def test_warnings_of_a_reservation(body: Any, warnings: tuple[str, ...]) -> None:
    assert warnings_of(body) == warnings
