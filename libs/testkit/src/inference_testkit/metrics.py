"""Reading a service's Prometheus exposition in tests (prometheus_client's own parser)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_samples(text: str) -> Samples:
    """Every sample by (name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(url: str, timeout: float = 10) -> Samples:
    """GET `url` (a /metrics endpoint) and parse it."""
    response = httpx.get(url, timeout=timeout)
    response.raise_for_status()
    return parse_samples(response.text)


def value(samples: Samples, name: str, labels: Mapping[str, str] | None = None) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there is none)."""
    wanted = set((labels or {}).items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}
