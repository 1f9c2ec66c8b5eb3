"""The API's one way to ask Prometheus: instant and range queries over its HTTP API (httpx,
the client's timeout), answers parsed by pure functions. Prometheus unreachable, timing out,
answering 5xx, an error or something unreadable is `PrometheusUnavailableError`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx

Sample = tuple[dict[str, str], float]
Series = tuple[dict[str, str], list[tuple[float, float]]]


class PrometheusUnavailableError(Exception):
    pass


def _result(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    if body.get("status") != "success":
        raise PrometheusUnavailableError(f"query failed: {body.get('error', 'unknown error')}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def parse_vector(body: Mapping[str, Any]) -> list[Sample]:
    """The samples of an instant-query answer; NaN (no traffic) is left out."""
    samples: list[Sample] = []
    for item in _result(body):
        value = float(item["value"][1])
        if not math.isnan(value):
            samples.append((dict(item["metric"]), value))
    return samples


def parse_matrix(body: Mapping[str, Any]) -> list[Series]:
    """The series of a range-query answer, each with its (time, value) points; NaN and
    infinite points (a quantile without traffic) are left out."""
    series: list[Series] = []
    for item in _result(body):
        points = [(float(t), v) for t, text in item["values"] if math.isfinite(v := float(text))]
        series.append((dict(item["metric"]), points))
    return series


async def _get(client: httpx.AsyncClient, url: str, params: dict[str, str]) -> Any:
    try:
        response = await client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise PrometheusUnavailableError(type(exc).__name__) from exc
    if response.status_code >= 500:
        raise PrometheusUnavailableError(f"HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise PrometheusUnavailableError("unreadable answer") from exc


async def instant_query(client: httpx.AsyncClient, base_url: str, promql: str) -> list[Sample]:
    body = await _get(client, f"{base_url}/api/v1/query", {"query": promql})
    try:
        return parse_vector(body)
    except (ValueError, KeyError, TypeError) as exc:
        raise PrometheusUnavailableError("unreadable answer") from exc


async def range_query(
    client: httpx.AsyncClient, base_url: str, promql: str, start: float, end: float, step: int
) -> list[Series]:
    params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}s"}
    body = await _get(client, f"{base_url}/api/v1/query_range", params)
    try:
        return parse_matrix(body)
    except (ValueError, KeyError, TypeError) as exc:
        raise PrometheusUnavailableError("unreadable answer") from exc
