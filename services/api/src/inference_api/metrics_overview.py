"""The dashboard's key panels: fixed PromQL built here (the browser only picks a window),
and the range answers shaped into aligned series for sparklines (pure functions).

Every panel is one range query over the window with `POINTS` steps. Rates use a range of at
least a minute (four scrapes at the stack's 15 s) so a short window still has two samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from inference_api.prometheus_http import Series

Window = Literal["5m", "15m", "1h", "6h"]
WINDOW_SECONDS: dict[str, int] = {"5m": 300, "15m": 900, "1h": 3600, "6h": 21600}
POINTS = 30
MIN_RATE_SECONDS = 60
MAX_SERIES = 12


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    unit: str
    labels: tuple[str, ...]
    """The labels that name a series, joined with "/" (model; node and card)."""
    template: str
    """PromQL with `{r}`, the rate range."""


PANELS: tuple[Panel, ...] = (
    Panel(
        "requests",
        "Requests / s",
        "req/s",
        ("model",),
        "sum by (model) (rate(gateway_requests_total[{r}]))",
    ),
    Panel(
        "errors",
        "Errors / s",
        "err/s",
        ("model",),
        "sum by (model) (rate(gateway_errors_total[{r}]))",
    ),
    Panel(
        "ttft_p50",
        "Time to first token p50",
        "s",
        ("model",),
        "histogram_quantile(0.5, sum by (model, le) "
        "(rate(gateway_time_to_first_token_seconds_bucket[{r}])))",
    ),
    Panel(
        "ttft_p95",
        "Time to first token p95",
        "s",
        ("model",),
        "histogram_quantile(0.95, sum by (model, le) "
        "(rate(gateway_time_to_first_token_seconds_bucket[{r}])))",
    ),
    Panel(
        "tokens",
        "Tokens generated / s",
        "tok/s",
        ("model",),
        "sum by (model) (rate(llamacpp:tokens_predicted_total[{r}]))",
    ),
    Panel(
        "deferred",
        "Queue (requests deferred)",
        "requests",
        ("model",),
        "sum by (model) (llamacpp:requests_deferred)",
    ),
    Panel(
        "gpu_utilization",
        "GPU utilisation per card",
        "%",
        ("Hostname", "gpu"),
        "max by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL)",
    ),
    Panel(
        "gpu_memory",
        "GPU memory used per card",
        "ratio",
        ("Hostname", "gpu"),
        "max by (Hostname, gpu) "
        "(DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE))",
    ),
)


class SeriesOut(BaseModel):
    label: str = Field(description='The model, or "node/card" for GPU panels.')
    values: list[float | None] = Field(description="One per step from `start`; null: no data.")
    latest: float | None = Field(description="The last value with data.")


class PanelOut(BaseModel):
    key: str
    title: str
    unit: str
    series: list[SeriesOut] = Field(description=f"At most {MAX_SERIES}, highest latest first.")


class OverviewOut(BaseModel):
    window: str
    start: float = Field(description="Unix time of the first value.")
    step_seconds: int
    panels: list[PanelOut]


@dataclass(frozen=True)
class Plan:
    start: float
    end: float
    step: int
    queries: dict[str, str]


def step_seconds(window: str) -> int:
    return WINDOW_SECONDS[window] // POINTS


def rate_range(window: str) -> str:
    return f"{max(step_seconds(window), MIN_RATE_SECONDS)}s"


def plan(window: str, now: float) -> Plan:
    """The range and the panels' PromQL for `window`, its last point at `now`.

    Not aligned down to the step: a 6h window (12 min steps) would then hide up to the last
    12 minutes of traffic, and a panel opened right after a burst would show none of it.
    """
    step = step_seconds(window)
    end = now
    start = end - step * (POINTS - 1)
    r = rate_range(window)
    return Plan(start, end, step, {p.key: p.template.format(r=r) for p in PANELS})


def series_label(labels: Mapping[str, str], names: tuple[str, ...]) -> str:
    return "/".join(labels.get(n) or "-" for n in names)


def align(points: list[tuple[float, float]], start: float, step: int) -> list[float | None]:
    """`POINTS` values, one per step from `start`; a step without a point is None."""
    values: list[float | None] = [None] * POINTS
    for t, v in points:
        i = round((t - start) / step)
        if 0 <= i < POINTS:
            values[i] = v
    return values


def shape_panel(panel: Panel, answer: list[Series], start: float, step: int) -> PanelOut:
    series = []
    for labels, points in answer:
        values = align(points, start, step)
        latest = next((v for v in reversed(values) if v is not None), None)
        series.append(
            SeriesOut(label=series_label(labels, panel.labels), values=values, latest=latest)
        )
    series = [s for s in series if s.latest is not None]
    series.sort(key=lambda s: (-(s.latest or 0.0), s.label))
    return PanelOut(key=panel.key, title=panel.title, unit=panel.unit, series=series[:MAX_SERIES])


def shape_overview(window: str, chosen: Plan, answers: Mapping[str, list[Series]]) -> OverviewOut:
    return OverviewOut(
        window=window,
        start=chosen.start,
        step_seconds=chosen.step,
        panels=[shape_panel(p, answers.get(p.key, []), chosen.start, chosen.step) for p in PANELS],
    )
