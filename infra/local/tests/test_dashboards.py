"""The dashboards are Grafana JSON models with a Prometheus datasource variable, unique uids
and panel ids, and a PromQL query in every panel (the queries themselves run against a real
Prometheus in test_observability_live.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference_localstack.config import REPO_ROOT

BOARDS = sorted((REPO_ROOT / "deploy" / "dashboards").glob("*.json"))
EXPECTED = {
    "platform-overview.json",
    "llama-cpp-server.json",
    "gateway-slo.json",
    "gpus.json",
    "downloads.json",
    "quotas.json",
}


def test_the_dashboards_of_the_issue_exist_with_unique_uids() -> None:
    assert {p.name for p in BOARDS} == EXPECTED
    uids = [json.loads(p.read_text())["uid"] for p in BOARDS]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_every_panel_queries_the_datasource_variable(path: Path) -> None:
    board = json.loads(path.read_text())
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in board["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert target["expr"].strip()
            for name in ("server_uuid", "model", "Hostname"):
                if f"${name}" in target["expr"]:
                    assert name in variables, (panel["title"], name)
