"""Prometheus' and Alertmanager's configurations are pure functions of the stack's config."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from inference_localstack import observability
from inference_localstack.cluster_objects import rbac_objects
from inference_localstack.config import StackConfig
from inference_localstack.pki import IDENTITIES

CFG = StackConfig(state_dir=Path("/state"))


def _inputs(**changes: Any) -> observability.PrometheusInputs:
    base = observability.stack_prometheus_inputs(CFG)
    return observability.PrometheusInputs(**{**base.__dict__, **changes})


def _job(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(j for j in config["scrape_configs"] if j["job_name"] == name)


def _relabel(rules: list[dict[str, Any]], meta: dict[str, str]) -> dict[str, str] | None:
    """Applies keep and replace rules the way Prometheus does (the subset used here)."""
    labels = dict(meta)
    for rule in rules:
        value = ";".join(labels.get(s, "") for s in rule["source_labels"])
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        if rule.get("action") == "keep":
            if not match:
                return None
            continue
        if match:
            labels[rule["target_label"]] = match.expand(
                rule.get("replacement", "$1").replace("$", "\\")
            )
    return {k: v for k, v in labels.items() if not k.startswith("__meta") and v}


POD = {
    "__address__": "10.244.0.7",
    "__meta_kubernetes_pod_node_name": "local-node",
    "__meta_kubernetes_pod_phase": "Running",
    "__meta_kubernetes_pod_ip": "10.244.0.7",
    "__meta_kubernetes_namespace": "inference",
    "__meta_kubernetes_pod_name": "chat-abc",
    "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
    "__meta_kubernetes_pod_annotation_prometheus_io_port": "8080",
    "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
    "__meta_kubernetes_pod_annotation_inference_service_dev_model_name": "smollm2:135m",
    "__meta_kubernetes_pod_label_inference_service_dev_server_uuid": "u-1",
    "__meta_kubernetes_pod_label_inference_service_dev_modelserve": "chat",
    "__meta_kubernetes_pod_label_inference_service_dev_owner": "alice",
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {},
            {
                "__address__": "10.244.0.7:8080",
                "__metrics_path__": "/metrics",
                "server_uuid": "u-1",
                "model": "smollm2:135m",
                "namespace": "inference",
                "owner": "alice",
                "modelserve": "chat",
                "pod": "chat-abc",
            },
        ),
        ({"__meta_kubernetes_pod_node_name": "kwok-geforce-rtx-4090-0"}, None),
        ({"__meta_kubernetes_pod_annotation_prometheus_io_scrape": "false"}, None),
        ({"__meta_kubernetes_pod_phase": "Pending"}, None),
    ],
    ids=["local-llama-pod", "kwok-pod", "not-annotated", "not-running"],
)
def test_llama_pods_are_kept_only_on_the_local_node_and_labelled_per_server(
    changes: dict[str, str], expected: dict[str, str] | None
) -> None:
    rules = observability.llama_relabel_configs("local-node")
    assert _relabel(rules, {**POD, **changes}) == expected


def test_pod_discovery_lists_only_the_local_node_with_the_prometheus_identity() -> None:
    job = _job(observability.prometheus_config(_inputs()), observability.LLAMA_JOB)
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["role"] == "pod"
    assert sd["api_server"] == f"https://127.0.0.1:{CFG.ports.apiserver}"
    assert sd["selectors"] == [{"role": "pod", "field": "spec.nodeName=local-node"}]
    assert sd["authorization"] == {"credentials_file": "/state/pki/prometheus.token"}
    assert sd["tls_config"] == {"ca_file": "/state/pki/ca.crt"}


@pytest.mark.parametrize(
    ("changes", "jobs", "alerting"),
    [
        (
            {},
            [
                "inference-api",
                "inference-contract",
                "inference-download",
                "inference-gateway",
                "modelserve-operator",
                "node-runtime",
                "llama-cpp",
            ],
            [{"static_configs": [{"targets": [f"127.0.0.1:{CFG.ports.alertmanager}"]}]}],
        ),
        ({"platform_targets": {}, "alertmanager": None}, ["llama-cpp"], None),
    ],
    ids=["stack", "bare"],
)
def test_jobs_and_alerting(
    changes: dict[str, Any], jobs: list[str], alerting: list[dict[str, Any]] | None
) -> None:
    config = observability.prometheus_config(_inputs(**changes))
    assert [j["job_name"] for j in config["scrape_configs"]] == jobs
    assert config.get("alerting", {}).get("alertmanagers") == alerting
    assert config["rule_files"] == [str(observability.RULES_DIR / "*.yml")]


@pytest.mark.parametrize(
    ("job", "port"),
    [
        ("inference-api", CFG.ports.api),
        ("inference-contract", CFG.ports.contract),
        ("inference-download", CFG.ports.download),
        ("inference-gateway", CFG.ports.gateway),
        ("modelserve-operator", CFG.ports.operator_metrics),
        ("node-runtime", CFG.ports.node_runtime),
    ],
)
def test_platform_services_are_scraped_on_loopback(job: str, port: int) -> None:
    config = observability.prometheus_config(_inputs())
    assert _job(config, job)["static_configs"] == [{"targets": [f"127.0.0.1:{port}"]}]
    assert _job(config, job).get("metrics_path", "/metrics") == "/metrics"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, f"http://127.0.0.1:{CFG.ports.api}/alerts/webhook"),
        ({"ALERT_WEBHOOK_URL": "http://127.0.0.1:9999/hook"}, "http://127.0.0.1:9999/hook"),
    ],
)
def test_alertmanager_posts_to_the_configured_webhook_with_a_token_file(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    monkeypatch.delenv("ALERT_WEBHOOK_URL", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = observability.alertmanager_config(
        observability.alert_webhook_url(CFG), Path("/state/pki/alert-webhook.token")
    )
    (receiver,) = config["receivers"]
    (hook,) = receiver["webhook_configs"]
    assert config["route"]["receiver"] == receiver["name"]
    assert hook["url"] == expected
    assert hook["send_resolved"] is True
    assert hook["http_config"]["authorization"] == {
        "credentials_file": "/state/pki/alert-webhook.token"
    }


def test_prometheus_identity_may_only_list_and_watch_what_it_discovers() -> None:
    assert IDENTITIES["prometheus"] == ("local:prometheus", [])
    objects = {(o["kind"], o["metadata"]["name"]): o for o in rbac_objects("traefik")}
    role = objects[("ClusterRole", "local:prometheus")]
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        (g, r, v)
        for g, r in [
            ("", "pods"),
            ("", "nodes"),
            ("", "services"),
            ("discovery.k8s.io", "endpointslices"),
        ]
        for v in ("list", "watch")
    }
    binding = objects[("ClusterRoleBinding", "local:prometheus")]
    assert binding["subjects"][0]["name"] == "local:prometheus"


@pytest.mark.parametrize(
    ("factory", "binary", "port_flag"),
    [
        (observability.prometheus, "prometheus", "--web.listen-address=127.0.0.1:"),
        (observability.alertmanager, "alertmanager", "--web.listen-address=127.0.0.1:"),
    ],
)
def test_components_listen_on_loopback_only(factory: Any, binary: str, port_flag: str) -> None:
    component = factory(Path("/bin"), Path("/c.yml"), Path("/d"), 19999)
    assert component.argv[0] == f"/bin/{binary}"
    assert f"{port_flag}19999" in component.argv
    assert component.health_url == "http://127.0.0.1:19999/-/ready"
    if binary == "alertmanager":
        assert "--cluster.listen-address=" in component.argv  # no gossip port


def test_stack_files_keep_tokens_private_and_name_them_in_the_configs(tmp_path: Path) -> None:
    cfg = StackConfig(state_dir=tmp_path)
    observability.write_stack_files(cfg, "prom-token", "hook-token")
    prom_token = cfg.pki_dir / "prometheus.token"
    hook_token = cfg.pki_dir / "alert-webhook.token"
    assert prom_token.read_text() == "prom-token"
    assert hook_token.read_text() == "hook-token"
    assert prom_token.stat().st_mode & 0o777 == 0o600
    assert hook_token.stat().st_mode & 0o777 == 0o600
    prom = (observability.prometheus_dir(cfg) / "prometheus.yml").read_text()
    alertmanager = (observability.alertmanager_dir(cfg) / "alertmanager.yml").read_text()
    assert str(prom_token) in prom
    assert str(hook_token) in alertmanager
    assert "prom-token" not in prom
    assert "hook-token" not in alertmanager
    argv = [c.argv for c in observability.stack_components(cfg, Path("/bin"))]
    assert [a[0] for a in argv] == ["/bin/alertmanager", "/bin/prometheus"]
