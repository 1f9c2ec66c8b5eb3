"""metrics_overview: the dashboard's fixed PromQL per window and the shaping of range
answers into aligned sparkline series (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from inference_api.metrics_overview import (
    MAX_SERIES,
    PANELS,
    POINTS,
    align,
    plan,
    shape_overview,
)
from inference_api.prometheus_http import PrometheusUnavailableError, parse_matrix

NOW = 1_796_000_880.153


@pytest.mark.parametrize(
    ("window", "step", "rate"),
    [("5m", 10, "60s"), ("15m", 30, "60s"), ("1h", 120, "120s"), ("6h", 720, "720s")],
)
def test_plan_steps_and_rate_ranges_per_window(window: str, step: int, rate: str) -> None:
    chosen = plan(window, NOW)
    assert chosen.step == step
    assert chosen.end == NOW
    assert chosen.end - chosen.start == step * (POINTS - 1)
    assert f"rate(gateway_requests_total[{rate}])" in chosen.queries["requests"]
    assert set(chosen.queries) == {p.key for p in PANELS}
    assert all("{r}" not in q for q in chosen.queries.values())


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([], [None] * POINTS),
        ([(100.0, 1.0), (110.0, 2.0)], [1.0, 2.0] + [None] * (POINTS - 2)),
        ([(100.0 + 10 * (POINTS - 1), 5.0)], [None] * (POINTS - 1) + [5.0]),
        (
            [(90.0, 9.0), (100.0 + 10 * POINTS, 9.0), (120.0, 3.0)],
            [None, None, 3.0] + [None] * (POINTS - 3),
        ),
        ([(100.4, 7.0)], [7.0] + [None] * (POINTS - 1)),
    ],
    ids=["empty", "first steps", "last step", "outside the range dropped", "rounded to the step"],
)
def test_align_puts_points_on_their_step(
    points: list[tuple[float, float]], expected: list[float | None]
) -> None:
    assert align(points, 100.0, 10) == expected


def matrix(*series: tuple[dict[str, str], list[tuple[float, str]]]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": m, "values": [[t, v] for t, v in pts]} for m, pts in series],
        },
    }


def test_range_answers_shape_into_panels_highest_latest_first() -> None:
    chosen = plan("5m", NOW)
    s = chosen.start
    answers = {
        "requests": parse_matrix(
            matrix(
                ({"model": "small"}, [(s, "0.5"), (s + 10, "0.25")]),
                ({"model": "big"}, [(s, "2"), (s + 20, "4")]),
                ({"model": "idle"}, [(s, "NaN")]),
            )
        ),
        "ttft_p95": parse_matrix(matrix(({"model": "big"}, [(s, "+Inf"), (s + 10, "0.12")]))),
        "gpu_utilization": parse_matrix(
            matrix(({"Hostname": "gpu-box", "gpu": "1"}, [(s, "80")]), ({"gpu": "0"}, [(s, "1")]))
        ),
    }
    out = shape_overview("5m", chosen, answers)
    panels = {p.key: p for p in out.panels}
    assert [p.key for p in out.panels] == [p.key for p in PANELS]
    assert out.step_seconds == 10
    assert out.start == s
    requests = panels["requests"].series
    assert [(x.label, x.latest) for x in requests] == [("big", 4.0), ("small", 0.25)]
    assert requests[0].values[:3] == [2.0, None, 4.0]
    assert len(requests[0].values) == POINTS
    assert [(x.label, x.values[:2]) for x in panels["ttft_p95"].series] == [("big", [None, 0.12])]
    assert [x.label for x in panels["gpu_utilization"].series] == ["gpu-box/1", "-/0"]
    assert panels["deferred"].series == []
    assert panels["tokens"].unit == "tok/s"


def test_a_panel_keeps_at_most_max_series() -> None:
    chosen = plan("15m", NOW)
    many = [({"model": f"m{i:02}"}, [(chosen.start, str(i))]) for i in range(MAX_SERIES + 5)]
    out = shape_overview("15m", chosen, {"requests": parse_matrix(matrix(*many))})
    labels = [x.label for x in out.panels[0].series]
    assert len(labels) == MAX_SERIES
    assert labels[0] == f"m{MAX_SERIES + 4:02}"


@pytest.mark.parametrize(
    "body",
    [
        {"status": "error", "errorType": "bad_data", "error": "parse error"},
        {"status": "error"},
    ],
)
def test_a_prometheus_error_is_unavailable(body: dict[str, Any]) -> None:
    with pytest.raises(PrometheusUnavailableError):
        parse_matrix(body)
