"""The alert and recording rules pass `promtool check rules` and their unit tests
(deploy/prometheus/tests/alerts_test.yml: one case per alert of issue 16); the stack's
generated Prometheus and Alertmanager configurations pass `promtool check config` and
`amtool check-config`. Needs the toolchain's binaries, not the stack."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from inference_localstack import observability
from inference_localstack.config import REPO_ROOT, StackConfig
from inference_localstack.stack import toolchain_bin_dir

pytestmark = pytest.mark.stack

PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
ALERTS_NAMED_IN_THE_ISSUE = {
    "LlamaCppTargetDown",
    "LlamaCppQueueBuilding",
    "LlamaCppWedged",
    "GatewayHighErrorRate",
    "TTFTSLOBurnFast",
    "TTFTSLOBurnSlow",
    "GPUTemperatureHigh",
    "GPUMemoryHigh",
    "GPUXidError",
    "DownloadStalled",
    "AdmissionWebhookFailing",
    "QuotaNearlyUsed",
}


def _tool(name: str) -> Path:
    path = toolchain_bin_dir(build=False) / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run infra/local/toolchain.sh")
    return path


def _run(*argv: str | Path) -> str:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_rules_are_valid() -> None:
    rules = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
    assert rules
    _run(_tool("promtool"), "check", "rules", *rules)


def test_every_alert_has_a_unit_test_and_they_pass() -> None:
    tests = PROMETHEUS_DIR / "tests" / "alerts_test.yml"
    defined = {
        rule["alert"]
        for group in yaml.safe_load((PROMETHEUS_DIR / "rules" / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    tested = {
        case["alertname"]
        for test in yaml.safe_load(tests.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert defined == ALERTS_NAMED_IN_THE_ISSUE
    assert tested == defined
    output = _run(_tool("promtool"), "test", "rules", tests)
    assert "SUCCESS" in output


def test_the_stack_configurations_are_valid(tmp_path: Path) -> None:
    cfg = StackConfig(state_dir=tmp_path)
    cfg.pki_dir.mkdir()
    (cfg.pki_dir / "ca.crt").write_text("")
    inputs = replace(
        observability.stack_prometheus_inputs(cfg),
        token_file=tmp_path / "token",
    )
    (tmp_path / "token").write_text("t")
    prometheus_yml = tmp_path / "prometheus.yml"
    prometheus_yml.write_text(yaml.safe_dump(observability.prometheus_config(inputs)))
    _run(_tool("promtool"), "check", "config", "--syntax-only", prometheus_yml)
    alertmanager_yml = tmp_path / "alertmanager.yml"
    alertmanager_yml.write_text(
        yaml.safe_dump(
            observability.alertmanager_config(observability.alert_webhook_url(cfg), tmp_path / "t")
        )
    )
    _run(_tool("amtool"), "check-config", alertmanager_yml)
