"""Property-based fuzzing of the OpenAPI description (schemathesis) against the running
service process: no input may produce a 5xx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference_contract.settings import ContractSettings
from inference_testkit.fuzz import fuzz_operations, request_counts

from .conftest import Users, contract_process

EXAMPLES_PER_OPERATION = 15


@pytest.fixture
def fuzz_target(
    contract_settings: ContractSettings, users: Users, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    _, admin = asyncio.run(users.new("admin"))
    with contract_process(contract_settings, tmp_path / "contract.log") as url:
        yield url, admin


def test_no_input_causes_a_server_error(fuzz_target: tuple[str, dict[str, str]]) -> None:
    url, auth = fuzz_target
    result = fuzz_operations(url, auth, examples=EXAMPLES_PER_OPERATION)
    assert result.operations >= 11
    assert result.failures == {}
    counts = request_counts(url)
    assert sum(n for status, n in counts.items() if status.startswith("2")) >= result.operations, (
        counts
    )
    assert not any(status.startswith("5") for status in counts), counts
