"""Property-based fuzzing of the OpenAPI description (schemathesis) against the running
service process: no input may produce a 5xx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from inference_contract.settings import ContractSettings

from .conftest import Users, contract_process

EXAMPLES_PER_OPERATION = 15


@pytest.fixture
def fuzz_target(
    contract_settings: ContractSettings, users: Users, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    _, admin = asyncio.run(users.new("admin"))
    with contract_process(contract_settings, tmp_path / "contract.log") as url:
        yield url, admin


def _request_counts(metrics: str) -> dict[str, float]:
    counts: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith("http_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            status = labels.split('status="', 1)[1].split('"', 1)[0]
            counts[status] = counts.get(status, 0) + float(value)
    return counts


def test_no_input_causes_a_server_error(fuzz_target: tuple[str, dict[str, str]]) -> None:
    url, auth = fuzz_target
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=url, headers=auth, checks=[not_a_server_error], timeout=30
            )

        try:
            fuzz()
        except Exception as exc:  # collected so that every operation is reported
            failures[operation.label] = str(exc)[:2000]
    assert operations >= 11
    assert failures == {}
    counts = _request_counts(httpx.get(f"{url}/metrics", timeout=10).text)
    assert sum(n for status, n in counts.items() if status.startswith("2")) >= operations, counts
    assert not any(status.startswith("5") for status in counts), counts
