"""OPERATOR_NAMESPACES / -n: exclusions combine into one kopf pattern."""

from __future__ import annotations

import pytest

from modelserve_operator.settings import namespace_patterns


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], []),
        (["team-a"], ["team-a"]),
        (["team-a", "team-b"], ["team-a", "team-b"]),
        (["team-*"], ["team-*"]),
        (["*", "!opt-*"], ["*,!opt-*"]),
        (["!opt-*", "!bench-*"], ["!opt-*,!bench-*"]),
        (["!opt-*,!bench-*"], ["!opt-*,!bench-*"]),
    ],
)
def test_namespace_patterns(given: list[str], expected: list[str]) -> None:
    assert namespace_patterns(given) == expected
