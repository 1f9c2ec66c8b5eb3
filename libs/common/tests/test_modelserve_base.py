"""The one message of a pydantic error, as the API (no root) and the operator ("spec") show it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from inference_common.modelserve import GpuSpec
from inference_common.modelserve_base import validation_message


@pytest.mark.parametrize(
    ("data", "root", "expected"),
    [
        ({"count": 17}, None, "count: Input should be less than or equal to 16"),
        ({"count": 17}, "spec", "spec.count: Input should be less than or equal to 16"),
        (
            {"product": "A"},
            None,
            "Value error, gpu.product and gpu.minMemoryGiB need gpu.count >= 1",
        ),
        (
            {"product": "A"},
            "spec.gpu",
            "spec.gpu: Value error, gpu.product and gpu.minMemoryGiB need gpu.count >= 1",
        ),
    ],
)
def test_validation_message(data: dict[str, Any], root: str | None, expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        GpuSpec.model_validate(data)
    assert validation_message(caught.value, root) == expected
