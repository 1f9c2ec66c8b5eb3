from __future__ import annotations

import re

import pytest

from inference_api.naming import modelserve_name

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
UUID = "7f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("smollm2:135m", "smollm2-135m-7f0c1a2b"),
        ("Qwen2.5-7B-Instruct", "qwen2-5-7b-instruct-7f0c1a2b"),
        ("7b-model", "m-7b-model-7f0c1a2b"),
        ("::", "m-7f0c1a2b"),
        ("a" * 200, "a" * 54 + "-7f0c1a2b"),
        ("a-" * 40, ("a-" * 27)[:54].rstrip("-") + "-7f0c1a2b"),
    ],
)
def test_modelserve_name(model: str, expected: str) -> None:
    name = modelserve_name(model, UUID)
    assert name == expected
    assert DNS_LABEL.match(name)
    assert len(name) <= 63
