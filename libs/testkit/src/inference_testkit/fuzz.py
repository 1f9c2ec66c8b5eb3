"""Property-based fuzzing of a running service's OpenAPI description (schemathesis
strategies driven by hypothesis directly: its pytest plugin does not support pytest 9).
Needs the `fuzz` extra."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error


@dataclass
class FuzzResult:
    operations: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # operation label: first error


def no_server_error(url: str, headers: dict[str, str]) -> Callable[[Any], None]:
    def run(case: Any) -> None:
        case.call_and_validate(
            base_url=url, headers=headers, checks=[not_a_server_error], timeout=30
        )

    return run


def fuzz_operations(
    url: str,
    headers: dict[str, str],
    *,
    examples: int = 15,
    run_case: Callable[[Any], None] | None = None,
) -> FuzzResult:
    """Every operation of `url`/openapi.json, with `examples` generated requests each, run
    by `run_case` (default: sent with `headers`, failing on any 5xx). Every operation is run;
    the first failure of each is collected."""
    run = run_case or no_server_error(url, headers)
    result = FuzzResult()
    schema: Any = schemathesis.openapi.from_url(f"{url}/openapi.json")
    for loaded in schema.get_all_operations():
        operation = loaded.ok()
        result.operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: Any) -> None:
            run(case)

        try:
            fuzz()
        except Exception as exc:
            result.failures[operation.label] = str(exc)[:2000]
    return result


def request_counts(url: str) -> dict[str, float]:
    """Requests the service counted (its `http_requests_total`) by status code."""
    counts: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("http_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            status = labels.split('status="', 1)[1].split('"', 1)[0]
            counts[status] = counts.get(status, 0) + float(value)
    return counts
