from __future__ import annotations

import pytest

from inference_common.settings import NamespaceDefaults
from inference_gateway.settings import GatewaySettings


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (None, ["default", "inference"]),
        ('["team-a", "team-b"]', ["team-a", "team-b"]),
        ("[]", []),
    ],
)
def test_allowed_namespaces_read_as_the_contract_service_reads_them(
    monkeypatch: pytest.MonkeyPatch, env: str | None, expected: list[str]
) -> None:
    if env is None:
        monkeypatch.delenv("ALLOWED_NAMESPACES", raising=False)
    else:
        monkeypatch.setenv("ALLOWED_NAMESPACES", env)
    assert GatewaySettings(dev_mode=True).allowed_namespaces == expected
    assert NamespaceDefaults().allowed_namespaces == expected
