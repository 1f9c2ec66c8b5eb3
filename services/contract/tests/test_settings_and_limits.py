"""Settings refuse unsafe values; effective limits and observed ModelServes are pure."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from inference_contract.limits import Limits, effective, namespace_defaults, user_defaults
from inference_contract.reconcile import observed
from inference_contract.settings import ContractSettings

SECRET = SecretStr("s" * 40)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "JWT_SECRET"),
        ({"jwt_secret": SecretStr("short")}, "JWT_SECRET"),
        ({"jwt_secret": SECRET, "webhook_tls_cert_file": "/x"}, "WEBHOOK_TLS_KEY_FILE"),
    ],
)
def test_unsafe_settings_stop_start_up(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):  # SettingsError, wrapped by pydantic
        ContractSettings(**values)


def test_dev_mode_generates_a_secret_and_defaults_are_explicit() -> None:
    settings = ContractSettings(dev_mode=True)
    assert len(settings.jwt_secret.get_secret_value()) >= 32
    assert settings.port == 8201
    assert settings.max_replicas == 5
    assert settings.allowed_namespaces == ["default", "inference"]


def test_namespace_defaults_leave_aggregates_unlimited() -> None:
    settings = ContractSettings(jwt_secret=SECRET)
    assert user_defaults(settings).max_servers == 10
    defaults = namespace_defaults(settings)
    assert (defaults.max_servers, defaults.max_gpus, defaults.allowed_namespaces) == (
        None,
        None,
        None,
    )
    assert defaults.max_replicas_per_server == 5


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        (None, Limits(max_servers=3, allowed_images=("a",))),
        ({}, Limits(max_servers=3, allowed_images=("a",))),
        ({"max_servers": None}, Limits(max_servers=3, allowed_images=("a",))),
        ({"max_servers": 0}, Limits(max_servers=0, allowed_images=("a",))),
        ({"allowed_images": ["b", "c"]}, Limits(max_servers=3, allowed_images=("b", "c"))),
        ({"allowed_images": []}, Limits(max_servers=3, allowed_images=())),
    ],
)
def test_effective(contract: dict[str, Any] | None, expected: Limits) -> None:
    assert effective(contract, Limits(max_servers=3, allowed_images=("a",))) == expected


SPEC = {
    "model": {"name": "m", "source": {"pvc": {"claimName": "c", "path": "m.gguf"}}},
    "replicas": 3,
    "gpu": {"count": 2, "minMemoryGiB": 16},
}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {"metadata": {"namespace": "n", "name": "a", "uid": "u1"}, "spec": SPEC},
            ("n", "a", 3, 6, 96, "u1"),
        ),
        (
            {
                "metadata": {
                    "namespace": "n",
                    "name": "b",
                    "uid": "u2",
                    "labels": {"inference-service.dev/server-uuid": "s2"},
                },
                "spec": {**SPEC, "gpu": {"count": 1, "product": "P"}},
            },
            ("n", "b", 3, 3, 30, "u2"),  # a label alone can be copied: the uid counts
        ),
        (
            {
                "metadata": {"namespace": "n", "name": "d", "uid": "u3"},
                "spec": SPEC,
                "status": {"serverUuid": "s3"},  # written by the operator after the signature
            },
            ("n", "d", 3, 6, 96, "s3"),
        ),
        ({"metadata": {"namespace": "n", "name": "c"}, "spec": {"replicas": 1}}, None),
    ],
)
def test_observed(obj: dict[str, Any], expected: tuple[Any, ...] | None) -> None:
    seen = observed(obj, {"P": 10}, 24)
    if expected is None:
        assert seen is None
        return
    assert seen is not None
    request, server_uuid = seen
    got = (
        request.namespace,
        request.name,
        request.replicas,
        request.gpus,
        request.gpu_memory_gib,
        server_uuid,
    )
    assert got == expected
