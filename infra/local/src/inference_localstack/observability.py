"""Prometheus and Alertmanager in the local stack: their configuration (pure functions of
the stack's config, table-tested) and how each is started.

Prometheus finds llama.cpp pods through the apiserver (kubernetes_sd, its own
least-privilege identity) and scrapes only pods bound to the local node, by pod IP: kwok's
simulated pods are never discovered, let alone sent a scrape. The platform services listen
on 127.0.0.1 and are static targets. Alertmanager posts to a webhook whose URL is a setting
(`ALERT_WEBHOOK_URL`; by default the API's own receiver, `POST /alerts/webhook`) with a
bearer token it reads from a file.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from inference_common.modelserve import MODELSERVE_LABEL, SERVER_UUID_LABEL
from inference_localstack.components import Component
from inference_localstack.config import REPO_ROOT, StackConfig

RULES_DIR = REPO_ROOT / "deploy" / "prometheus" / "rules"
MODEL_NAME_ANNOTATION = "inference-service.dev/model-name"
OWNER_LABEL = "inference-service.dev/owner"
LLAMA_JOB = "llama-cpp"
ALERT_WEBHOOK_PATH = "/alerts/webhook"


def meta_name(kind: str, key: str) -> str:
    """Prometheus' name of a pod label or annotation: `__meta_kubernetes_pod_label_a_b`."""
    clean = "".join(c if c.isalnum() else "_" for c in key)
    return f"__meta_kubernetes_pod_{kind}_{clean}"


@dataclass(frozen=True)
class ScrapeSettings:
    """Intervals; tests shorten them so an alert fires within seconds."""

    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"
    scrape_timeout: str = "10s"


@dataclass(frozen=True)
class PrometheusInputs:
    apiserver_url: str
    ca_file: Path
    token_file: Path
    local_node: str
    platform_targets: dict[str, str]
    """job name -> host:port of a platform service exposing /metrics"""
    alertmanager: str | None
    rule_files: list[str]
    settings: ScrapeSettings = ScrapeSettings()


def llama_relabel_configs(local_node: str) -> list[dict[str, Any]]:
    """Keep only annotated pods on the local node; scrape the pod IP on the annotated port;
    name each series by server, model, namespace and owner."""
    ann = "__meta_kubernetes_pod_annotation_prometheus_io_"
    return [
        {
            "source_labels": ["__meta_kubernetes_pod_node_name"],
            "regex": local_node,
            "action": "keep",
        },
        {"source_labels": [f"{ann}scrape"], "regex": "true", "action": "keep"},
        {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Running", "action": "keep"},
        {
            "source_labels": ["__meta_kubernetes_pod_ip", f"{ann}port"],
            "regex": r"(.+);(\d+)",
            "replacement": "$1:$2",
            "target_label": "__address__",
        },
        {
            "source_labels": [f"{ann}path"],
            "regex": "(.+)",
            "target_label": "__metrics_path__",
        },
        {
            "source_labels": [meta_name("label", SERVER_UUID_LABEL)],
            "target_label": "server_uuid",
        },
        {
            "source_labels": [meta_name("annotation", MODEL_NAME_ANNOTATION)],
            "target_label": "model",
        },
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": [meta_name("label", OWNER_LABEL)], "target_label": "owner"},
        {
            "source_labels": [meta_name("label", MODELSERVE_LABEL)],
            "target_label": "modelserve",
        },
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
    ]


def prometheus_config(inputs: PrometheusInputs) -> dict[str, Any]:
    s = inputs.settings
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": s.scrape_interval,
            "evaluation_interval": s.evaluation_interval,
            "scrape_timeout": s.scrape_timeout,
        },
        "rule_files": list(inputs.rule_files),
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [{"targets": [address]}],
            }
            for job, address in sorted(inputs.platform_targets.items())
        ]
        + [
            {
                "job_name": LLAMA_JOB,
                "kubernetes_sd_configs": [
                    {
                        "role": "pod",
                        "api_server": inputs.apiserver_url,
                        "tls_config": {"ca_file": str(inputs.ca_file)},
                        "authorization": {"credentials_file": str(inputs.token_file)},
                        # Only the local node's pods are even listed: kwok's never appear.
                        "selectors": [
                            {"role": "pod", "field": f"spec.nodeName={inputs.local_node}"}
                        ],
                    }
                ],
                "relabel_configs": llama_relabel_configs(inputs.local_node),
            }
        ],
    }
    if inputs.alertmanager:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": [inputs.alertmanager]}]}]
        }
    return config


def alertmanager_config(
    webhook_url: str, token_file: Path, group_wait: str = "30s", repeat_interval: str = "4h"
) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "platform",
            "group_by": ["alertname", "server_uuid"],
            "group_wait": group_wait,
            "group_interval": group_wait,
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {
                "name": "platform",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {"credentials_file": str(token_file)},
                        },
                    }
                ],
            }
        ],
    }


# --- the stack's own instance ---------------------------------------------------------


def prometheus_dir(cfg: StackConfig) -> Path:
    return cfg.data_dir("prometheus")


def alertmanager_dir(cfg: StackConfig) -> Path:
    return cfg.data_dir("alertmanager")


def prometheus_url(cfg: StackConfig) -> str:
    return f"http://127.0.0.1:{cfg.ports.prometheus}"


def alertmanager_url(cfg: StackConfig) -> str:
    return f"http://127.0.0.1:{cfg.ports.alertmanager}"


def alert_webhook_url(cfg: StackConfig) -> str:
    return os.environ.get(
        "ALERT_WEBHOOK_URL", f"http://127.0.0.1:{cfg.ports.api}{ALERT_WEBHOOK_PATH}"
    )


def platform_targets(cfg: StackConfig) -> dict[str, str]:
    """Every platform process that serves /metrics on 127.0.0.1 (the operator on its own
    metrics port, next to kopf's /healthz)."""
    return {
        "inference-api": f"127.0.0.1:{cfg.ports.api}",
        "inference-contract": f"127.0.0.1:{cfg.ports.contract}",
        "inference-download": f"127.0.0.1:{cfg.ports.download}",
        "inference-gateway": f"127.0.0.1:{cfg.ports.gateway}",
        "modelserve-operator": f"127.0.0.1:{cfg.ports.operator_metrics}",
        "node-runtime": f"127.0.0.1:{cfg.ports.node_runtime}",
    }


def stack_prometheus_inputs(cfg: StackConfig) -> PrometheusInputs:
    return PrometheusInputs(
        apiserver_url=f"https://127.0.0.1:{cfg.ports.apiserver}",
        ca_file=cfg.pki_dir / "ca.crt",
        token_file=cfg.pki_dir / "prometheus.token",
        local_node=cfg.local_node_name,
        platform_targets=platform_targets(cfg),
        alertmanager=f"127.0.0.1:{cfg.ports.alertmanager}",
        rule_files=[str(RULES_DIR / "*.yml")],
    )


def prometheus(
    bin_dir: Path, config_file: Path, data_dir: Path, port: int, name: str = "prometheus"
) -> Component:
    return Component(
        name,
        [
            str(bin_dir / "prometheus"),
            f"--config.file={config_file}",
            f"--storage.tsdb.path={data_dir}",
            "--storage.tsdb.retention.time=7d",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ],
        f"http://127.0.0.1:{port}/-/ready",
    )


def alertmanager(
    bin_dir: Path, config_file: Path, data_dir: Path, port: int, name: str = "alertmanager"
) -> Component:
    return Component(
        name,
        [
            str(bin_dir / "alertmanager"),
            f"--config.file={config_file}",
            f"--storage.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        f"http://127.0.0.1:{port}/-/ready",
    )


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def write_stack_files(cfg: StackConfig, prometheus_token: str, webhook_token: str) -> None:
    """The two configurations and the token files they name (mode 0600: tokens stay off
    the command line and out of the configs)."""
    inputs = stack_prometheus_inputs(cfg)
    _write_private(inputs.token_file, prometheus_token)
    webhook_token_file = cfg.pki_dir / "alert-webhook.token"
    _write_private(webhook_token_file, webhook_token)
    for d in (prometheus_dir(cfg), alertmanager_dir(cfg)):
        d.mkdir(parents=True, exist_ok=True)
    (prometheus_dir(cfg) / "prometheus.yml").write_text(
        yaml.safe_dump(prometheus_config(inputs), sort_keys=False)
    )
    (alertmanager_dir(cfg) / "alertmanager.yml").write_text(
        yaml.safe_dump(
            alertmanager_config(alert_webhook_url(cfg), webhook_token_file), sort_keys=False
        )
    )


def reload(cfg: StackConfig) -> None:
    """Asks running instances to re-read the configurations `write_stack_files` wrote (both
    serve POST /-/reload); one that is not running yet reads them when it starts."""
    for url in (prometheus_url(cfg), alertmanager_url(cfg)):
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{url}/-/reload", timeout=10)


def stack_components(cfg: StackConfig, bin_dir: Path) -> list[Component]:
    prom, am = prometheus_dir(cfg), alertmanager_dir(cfg)
    return [
        alertmanager(bin_dir, am / "alertmanager.yml", am / "data", cfg.ports.alertmanager),
        prometheus(bin_dir, prom / "prometheus.yml", prom / "tsdb", cfg.ports.prometheus),
    ]
