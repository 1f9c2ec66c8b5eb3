"""The `modelserve-operator` process (kopf included) writes nothing but the platform's JSON
log lines."""

from __future__ import annotations

from collections.abc import Callable

from inference_testkit.logs import json_log

from .conftest import OperatorProcess


def test_the_operator_logs_json_lines(operator_factory: Callable[..., OperatorProcess]) -> None:
    operator = operator_factory().start()
    operator.stop()
    entries = json_log(operator.log)
    assert entries, "the operator logged nothing at INFO"
