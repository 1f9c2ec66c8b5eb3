"""Which requests must show a valid bearer token before their body is read (pure: the
app's own OpenAPI document, no server)."""

from __future__ import annotations

import re

import pytest

from inference_api.app import create_app
from inference_api.bodyauth import operations_needing_a_user
from inference_api.settings import ApiSettings


@pytest.fixture(scope="module")
def operations() -> list[tuple[str, str]]:
    app = create_app(ApiSettings(dev_mode=True))
    return [(method, regex.pattern) for method, regex in operations_needing_a_user(app.openapi())]


@pytest.mark.parametrize(
    ("method", "path", "needs_a_user"),
    [
        ("POST", "/serve", True),
        ("POST", "/users", True),
        ("POST", "/api-keys", True),
        ("POST", "/models", True),
        ("POST", "/auth/token", False),
        ("GET", "/status", False),  # no body: left to `current_user`
        ("DELETE", "/stop/abc", False),
        ("POST", "/serve/extra", False),
    ],
)
def test_operations_needing_a_user(
    operations: list[tuple[str, str]], method: str, path: str, needs_a_user: bool
) -> None:
    matched = any(m == method and re.match(p, path) for m, p in operations)
    assert matched is needs_a_user
