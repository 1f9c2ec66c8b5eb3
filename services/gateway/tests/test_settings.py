from __future__ import annotations

import pytest

from inference_common.settings import NamespaceDefaults
from inference_gateway.settings import GatewaySettings


def test_allowed_namespaces_default_is_the_contract_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ALLOWED_NAMESPACES", raising=False)
    gateway = GatewaySettings(dev_mode=True).allowed_namespaces
    assert gateway == NamespaceDefaults().allowed_namespaces == ["default", "inference"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [('["team-a", "team-b"]', ["team-a", "team-b"]), ("[]", [])],
)
def test_allowed_namespaces_read_as_the_contract_service_reads_them(
    monkeypatch: pytest.MonkeyPatch, env: str, expected: list[str]
) -> None:
    monkeypatch.setenv("ALLOWED_NAMESPACES", env)
    assert GatewaySettings(dev_mode=True).allowed_namespaces == expected
    assert NamespaceDefaults().allowed_namespaces == expected
