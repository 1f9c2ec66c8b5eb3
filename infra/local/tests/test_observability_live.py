"""A real Prometheus and Alertmanager, started from the stack's component code on free
ports of 127.0.0.1, against the running apiserver and real servers:

- pod discovery with the `local:prometheus` rules (bound to a ServiceAccount of the test):
  a pod bound to a kwok node is listed by a job asking for that node, and never seen by
  the job of the local node;
- every panel of deploy/dashboards/*.json runs against it after real traffic (a llama.cpp
  server, a gateway, a contract service and a download service of this checkout on
  127.0.0.1, and an operator serving a namespace of its own: chat completions, an allowed
  and a refused AdmissionReview, an import, a ModelServe created and changed) and returns
  data, except where the metrics cannot exist here (no GPU; see `NO_DATA_HERE`);
- every `inference_*` series the rules and dashboards name is exported by those services,
  with the labels the alerts and panels use;
- killing the llama.cpp process fires `LlamaCppTargetDown`, which Alertmanager delivers to
  a webhook with the bearer token from its token file.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import math
import os
import re
import secrets
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import yaml
from kubernetes import client
from minio import Minio
from minio.deleteobjects import DeleteObject

from inference_common.auth import TokenSigner
from inference_common.db import make_engine, make_sessionmaker, unit_of_work
from inference_common.modelserve import GROUP, PLURAL, VERSION
from inference_common.tables import User
from inference_localstack import llama_server, observability
from inference_localstack.cluster_objects import rbac_objects
from inference_localstack.config import REPO_ROOT, StackConfig
from inference_localstack.embedded_model import REGISTRY_NAME, embedded_model_path
from inference_localstack.stack import toolchain_bin_dir
from inference_testkit.namespaces import temporary_namespace
from inference_testkit.object_store import download_store_settings
from inference_testkit.servers import free_port, http_process, stop_process, wait_http_ok
from inference_testkit.tls import serving_cert
from inference_testkit.waiting import wait_for

DASHBOARDS = REPO_ROOT / "deploy" / "dashboards"
SERVER_UUID = "live-test-server"
NO_DATA_HERE = {
    "gpus.json": "no NVIDIA GPU on this machine: DCGM metrics exist only on real cards",
}
PLATFORM_SERIES = re.compile(r"\binference_[a-z_]+\b")
# The labels the alerts' summaries and the panels' `by (…)` read from the services' series.
LABELS_READ = {
    "inference_quota_used": {"scope", "subject", "resource"},
    "inference_quota_limit": {"scope", "subject", "resource"},
    "inference_admission_denials_total": {"reason"},
}
QUOTA_USER = f"obs-{secrets.token_hex(3)}"
RECONCILES = 'inference_operator_reconcile_duration_seconds_count{handler="reconcile"}'
# Wide enough that the rates of the traffic sent at the start still hold however long the
# run takes (a slow machine: a rate over a window with no increase is 0, a ratio of two NaN).
RATE_WINDOW = "1h"


@dataclass
class Webhook:
    """A receiver on 127.0.0.1 that keeps what Alertmanager posts and the token it sent."""

    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                hook.received.append((self.headers.get("authorization", ""), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@dataclass
class Observed:
    prometheus: str
    llama: subprocess.Popen[bytes]
    webhook: Webhook
    webhook_token: str
    kwok_pod: str


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def _service_account_token(
    kube_api: client.ApiClient, namespace: str, role_name: str
) -> Iterator[str]:
    """A ServiceAccount bound to a copy of the `local:prometheus` ClusterRole."""
    rbac = client.RbacAuthorizationV1Api(kube_api)
    core = client.CoreV1Api(kube_api)
    role = next(o for o in rbac_objects("traefik") if o["metadata"]["name"] == "local:prometheus")
    rbac.create_cluster_role({**role, "metadata": {"name": role_name}})
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "prometheus"}})
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": role_name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role_name,
            },
            "subjects": [{"kind": "ServiceAccount", "name": "prometheus", "namespace": namespace}],
        }
    )
    try:
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
        )
        answer = core.create_namespaced_service_account_token("prometheus", namespace, request)
        yield str(answer.status.token)
    finally:
        rbac.delete_cluster_role_binding(role_name)
        rbac.delete_cluster_role(role_name)


def _kwok_pod(kube_api: client.ApiClient, namespace: str, node: str) -> str:
    """A scrape-annotated pod bound to a simulated node (kwok runs it in name only)."""
    name = f"sim-{secrets.token_hex(3)}"
    client.CoreV1Api(kube_api).create_namespaced_pod(
        namespace,
        {
            "metadata": {
                "name": name,
                "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"},
            },
            "spec": {
                "nodeName": node,
                "tolerations": [{"operator": "Exists"}],
                "containers": [{"name": "c", "image": "example.invalid/none"}],
            },
        },
    )
    return name


def _test_rules(directory: Path) -> str:
    """The real rules, with `for` shortened so an alert fires within seconds."""
    directory.mkdir()
    for path in observability.RULES_DIR.glob("*.yml"):
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = "2s"
        (directory / path.name).write_text(yaml.safe_dump(doc))
    return str(directory / "*.yml")


def _prometheus_config(
    cfg: StackConfig,
    token_file: Path,
    targets: dict[str, str],
    llama: str,
    alertmanager: str,
    rules: str,
    kwok_node: str,
) -> dict[str, Any]:
    inputs = replace(
        observability.stack_prometheus_inputs(cfg),
        token_file=token_file,
        platform_targets=targets,
        alertmanager=alertmanager,
        rule_files=[rules],
        settings=observability.ScrapeSettings("1s", "1s", "1s"),
    )
    config = observability.prometheus_config(inputs)
    local_sd = config["scrape_configs"][-1]
    assert local_sd["job_name"] == observability.LLAMA_JOB
    local_sd["job_name"] = "local-node-pods"
    # The same discovery asking for a kwok node proves the identity may list pods; every
    # target it finds is dropped, so nothing is ever sent to a simulated pod.
    kwok_sd = json.loads(json.dumps(local_sd))
    kwok_sd["job_name"] = "kwok-node-pods"
    kwok_sd["kubernetes_sd_configs"][0]["selectors"][0]["field"] = f"spec.nodeName={kwok_node}"
    kwok_sd["relabel_configs"] = [{"source_labels": ["__address__"], "action": "drop"}]
    static_llama = {
        "job_name": observability.LLAMA_JOB,
        "static_configs": [
            {
                "targets": [llama],
                "labels": {
                    "server_uuid": SERVER_UUID,
                    "model": REGISTRY_NAME,
                    "namespace": "inference",
                },
            }
        ],
    }
    config["scrape_configs"] += [kwok_sd, static_llama]
    return config


def _gateway_traffic(gateway: str, requests: int) -> None:
    with httpx.Client(base_url=gateway, timeout=60) as http:
        for i in range(requests):
            body = {
                "model": REGISTRY_NAME,
                "messages": [{"role": "user", "content": f"count to {i}"}],
                "max_tokens": 8,
                "stream": i % 2 == 0,
            }
            response = http.post("/v1/chat/completions", json=body)
            assert response.status_code == 200, response.text
        missing = http.post("/v1/chat/completions", json={**body, "model": "no-such-model"})
        assert missing.status_code >= 400


def query(prometheus: str, promql: str) -> dict[str, Any]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10)
    body: dict[str, Any] = response.json()
    assert body["status"] == "success", (promql, body)
    return body


def has_data(prometheus: str, promql: str) -> bool:
    result = query(prometheus, promql)["data"]["result"]
    return any(not math.isnan(float(r["value"][1])) for r in result)


@dataclass(frozen=True)
class PlatformServices:
    """The contract and download services of this checkout, against the session's database
    and the stack's MinIO (buckets of their own)."""

    contract: str
    webhook: str
    ca_file: Path
    download: str
    download_headers: dict[str, str]
    source_bucket: str


@contextmanager
def _bucket(s3: Minio, prefix: str) -> Iterator[str]:
    bucket = f"{prefix}-{secrets.token_hex(4)}"
    s3.make_bucket(bucket)
    try:
        yield bucket
    finally:
        objects = [DeleteObject(o.object_name) for o in s3.list_objects(bucket, recursive=True)]
        for error in s3.remove_objects(bucket, objects):
            print("could not remove", error)
        s3.remove_bucket(bucket)


async def _user(database_url: str) -> User:
    user = User(id=uuid4(), username=f"obs-{secrets.token_hex(4)}", password_hash="x", role="user")
    engine = make_engine(database_url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            session.add(user)
    finally:
        await engine.dispose()
    return user


def _base_env(stack_env: dict[str, str], database_url: str, jwt_secret: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "DEV_MODE": "false",
        "DATABASE_URL": database_url,
        "KUBECONFIG": stack_env["KUBECONFIG"],
        "JWT_SECRET": jwt_secret,
        "RUN_MIGRATIONS": "false",
        "LOG_LEVEL": "WARNING",
    }


@contextmanager
def platform_services(
    stack_env: dict[str, str], database_url: str, s3: Minio, work: Path
) -> Iterator[PlatformServices]:
    jwt_secret = secrets.token_urlsafe(48)
    base = _base_env(stack_env, database_url, jwt_secret)
    cert = serving_cert(work)
    ca_file = work / "webhook-ca.pem"
    ca_file.write_bytes(cert.ca_pem)
    user = asyncio.run(_user(database_url))
    token = TokenSigner(jwt_secret).issue(str(user.id), user.username, user.role)
    contract_port, webhook_port, download_port = free_port(), free_port(), free_port()
    contract_env = {
        **base,
        "PORT": str(contract_port),
        "WATCH_MODELSERVES": "false",
        "WEBHOOK_PORT": str(webhook_port),
        "WEBHOOK_TLS_CERT_FILE": str(cert.cert_file),
        "WEBHOOK_TLS_KEY_FILE": str(cert.key_file),
    }
    with ExitStack() as stack:
        source = stack.enter_context(_bucket(s3, "obs-quant"))
        target = stack.enter_context(_bucket(s3, "obs-models"))
        download_env = {
            **base,
            "PORT": str(download_port),
            **download_store_settings(stack_env, source, target),
            "PART_BYTES": str(5 * 1024**2),
        }
        contract = f"http://127.0.0.1:{contract_port}"
        download = f"http://127.0.0.1:{download_port}"
        stack.enter_context(
            http_process(
                [sys.executable, "-m", "inference_contract.main"],
                contract_env,
                f"{contract}/health",
                log=work / "contract.log",
            )
        )
        stack.enter_context(
            http_process(
                [sys.executable, "-m", "inference_download.main"],
                download_env,
                f"{download}/health",
                log=work / "download.log",
            )
        )
        yield PlatformServices(
            contract=contract,
            webhook=f"https://127.0.0.1:{webhook_port}/admission/modelserves",
            ca_file=ca_file,
            download=download,
            download_headers={"Authorization": f"Bearer {token}"},
            source_bucket=source,
        )


@dataclass(frozen=True)
class OperatorUnderTest:
    """An operator of this checkout serving one `opt-*` namespace of its own (the stack's
    operator leaves those alone)."""

    metrics: str
    namespace: str
    custom: client.CustomObjectsApi


@contextmanager
def operator_process(
    kube_api: client.ApiClient, stack_env: dict[str, str], work: Path
) -> Iterator[OperatorUnderTest]:
    liveness, metrics = free_port(), free_port()
    with temporary_namespace(kube_api, "opt-obs") as namespace:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", ""),
            "KUBECONFIG": stack_env["KUBECONFIG"],
            "S3_ENDPOINT": stack_env["S3_ENDPOINT"],
            "S3_ACCESS_KEY": stack_env["S3_ACCESS_KEY"],
            "S3_SECRET_KEY": stack_env["S3_SECRET_KEY"],
            "SERVER_UUID_KEY": secrets.token_urlsafe(32),
            "LIVENESS_PORT": str(liveness),
            "LIVENESS_HOST": "127.0.0.1",
            "METRICS_PORT": str(metrics),
            "METRICS_HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
        }
        with http_process(
            [sys.executable, "-m", "modelserve_operator.main", "-n", namespace],
            env,
            f"http://127.0.0.1:{liveness}/healthz",
            log=work / "operator.log",
        ):
            yield OperatorUnderTest(
                f"127.0.0.1:{metrics}", namespace, client.CustomObjectsApi(kube_api)
            )


def _operator_traffic(operator: OperatorUnderTest, round_: int) -> None:
    """Round 1 creates a ModelServe (bound to a simulated GPU node); round 2 changes it, so
    the reconcile counters grow while Prometheus watches."""
    if round_ == 1:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ModelServe",
            "metadata": {"name": "observed"},
            "spec": {
                "model": {
                    "name": REGISTRY_NAME,
                    "source": {"s3": {"bucket": "inference-models", "key": "m.gguf"}},
                    "sha256": hashlib.sha256(b"never fetched: a simulated node").hexdigest(),
                },
                "gpu": {"count": 1},
                "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-4090"},
            },
        }
        operator.custom.create_namespaced_custom_object(
            GROUP, VERSION, operator.namespace, PLURAL, body
        )
        return
    operator.custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        operator.namespace,
        PLURAL,
        "observed",
        {"metadata": {"annotations": {"test.inference-service.dev/round": str(round_)}}},
    )


def _admission_review(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid4()),
            "operation": "CREATE",
            "namespace": namespace,
            "name": name,
            "userInfo": {"username": QUOTA_USER, "groups": ["system:authenticated"]},
            "object": {
                "metadata": {"name": name},
                "spec": {
                    "model": {
                        "name": REGISTRY_NAME,
                        "source": {"pvc": {"claimName": "c", "path": "m.gguf"}},
                    },
                    "replicas": 1,
                },
            },
        },
    }


def _admission_traffic(services: PlatformServices, round_: int) -> None:
    """One refused review (a namespace the user may not use) and one allowed, which holds a
    server against the user's and the namespace's quotas."""
    trust = ssl.create_default_context(cafile=str(services.ca_file))
    with httpx.Client(verify=trust, timeout=30) as http:
        refused = http.post(
            services.webhook, json=_admission_review("obs-not-allowed", f"r{round_}")
        )
        allowed = http.post(services.webhook, json=_admission_review("default", f"a{round_}"))
    assert refused.json()["response"]["allowed"] is False, refused.text
    assert allowed.json()["response"]["allowed"] is True, allowed.text


def _publish_model(s3: Minio, bucket: str, work: Path) -> UUID:
    """The embedded GGUF with random bytes appended (unique bytes: not a duplicate of the
    registered model), and its manifest."""
    model_uuid = uuid4()
    path = work / f"{model_uuid.hex[:8]}.gguf"
    path.write_bytes(embedded_model_path().read_bytes() + secrets.token_bytes(1024**2))
    s3.fput_object(bucket, f"{model_uuid}/{path.name}", str(path))
    manifest = {
        "name": f"obs-{model_uuid.hex[:8]}",
        "quantization": "Q8_0",
        "source_model": "tests/observability",
        "files": [
            {
                "key": path.name,
                "size_bytes": path.stat().st_size,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
        ],
    }
    body = json.dumps(manifest).encode()
    s3.put_object(bucket, f"{model_uuid}/manifest.json", io.BytesIO(body), len(body))
    return model_uuid


def _import(services: PlatformServices, model_uuid: UUID) -> None:
    with httpx.Client(
        base_url=services.download, headers=services.download_headers, timeout=30
    ) as http:
        started = http.post(f"/download/{model_uuid}")
        assert started.status_code == 202, started.text

        def done() -> dict[str, Any] | None:
            body: dict[str, Any] = http.get(f"/status/{model_uuid}").json()
            return body if body["phase"] in ("Done", "Failed", "Cancelled") else None

        final = wait_for(done, timeout=120, what=f"the import of {model_uuid}")
    assert final["phase"] == "Done", final


@pytest.fixture(scope="module")
def observed(
    stack_env: dict[str, str],
    kube_api: client.ApiClient,
    crd: dict[str, Any],
    database_url: str,
    s3: Minio,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Observed]:
    cfg = StackConfig()
    bin_dir = toolchain_bin_dir(build=False)
    if not (bin_dir / "prometheus").exists():
        pytest.fail(f"no prometheus in {bin_dir}: run infra/local/toolchain.sh")
    work = tmp_path_factory.mktemp("observability")
    kwok_node = next(
        n.metadata.name
        for n in client.CoreV1Api(kube_api).list_node().items
        if n.metadata.name != cfg.local_node_name
    )
    namespace = f"obs-{secrets.token_hex(4)}"
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": namespace}})
    processes: list[subprocess.Popen[bytes]] = []
    hook = Webhook()
    server = ThreadingHTTPServer(("127.0.0.1", 0), hook.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tokens = _service_account_token(kube_api, namespace, f"test-prometheus-{namespace}")
    rig = ExitStack()
    try:
        services = rig.enter_context(platform_services(stack_env, database_url, s3, work))
        operator = rig.enter_context(operator_process(kube_api, stack_env, work))
        token_file = work / "prometheus.token"
        token_file.write_text(next(tokens))
        kwok_pod = _kwok_pod(kube_api, namespace, kwok_node)

        llama_port, gateway_port = free_port(), free_port()
        llama = _spawn(
            llama_server.command(
                str(embedded_model_path()),
                "127.0.0.1",
                llama_port,
                *("-c", "1024", "-np", "2", "-t", "1", "--metrics", "--no-webui"),
            ),
            work / "llama.log",
        )
        processes.append(llama)
        gateway = _spawn(
            [
                sys.executable,
                str(REPO_ROOT / "bench" / "gateway_static.py"),
                str(gateway_port),
                REGISTRY_NAME,
                "127.0.0.1",
                str(llama_port),
            ],
            work / "gateway.log",
        )
        processes.append(gateway)

        webhook_token = secrets.token_urlsafe(16)
        (work / "webhook.token").write_text(webhook_token)
        am_port, prom_port = free_port(), free_port()
        am_config = observability.alertmanager_config(
            f"http://127.0.0.1:{server.server_address[1]}/alerts/webhook",
            work / "webhook.token",
            group_wait="1s",
        )
        (work / "alertmanager.yml").write_text(yaml.safe_dump(am_config))
        am = observability.alertmanager(
            bin_dir, work / "alertmanager.yml", work / "am-data", am_port, "test-alertmanager"
        )
        processes.append(_spawn(am.argv, work / "alertmanager.log"))

        prom_config = _prometheus_config(
            cfg,
            token_file,
            {
                "inference-api": f"127.0.0.1:{cfg.ports.api}",
                "inference-gateway": f"127.0.0.1:{gateway_port}",
                "inference-contract": services.contract.removeprefix("http://"),
                "inference-download": services.download.removeprefix("http://"),
                "modelserve-operator": operator.metrics,
            },
            f"127.0.0.1:{llama_port}",
            f"127.0.0.1:{am_port}",
            _test_rules(work / "rules"),
            kwok_node,
        )
        (work / "prometheus.yml").write_text(yaml.safe_dump(prom_config))
        prom = observability.prometheus(
            bin_dir, work / "prometheus.yml", work / "tsdb", prom_port, "test-prometheus"
        )
        processes.append(_spawn(prom.argv, work / "prometheus.log"))

        wait_http_ok(f"http://127.0.0.1:{llama_port}/health", llama, 120, work / "llama.log")
        wait_http_ok(f"http://127.0.0.1:{gateway_port}/healthz", gateway, 60, work / "gateway.log")
        wait_http_ok(am.health_url, processes[2], 60, work / "alertmanager.log")
        wait_http_ok(prom.health_url, processes[3], 60, work / "prometheus.log")
        base = f"http://127.0.0.1:{prom_port}"
        # A counter's first sample already holds what came before it: traffic before and
        # after Prometheus first sees the series, so rates have an increase to show.
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        _gateway_traffic(gateway_url, 2)
        _admission_traffic(services, 1)
        _operator_traffic(operator, 1)
        _import(services, _publish_model(s3, services.source_bucket, work))
        wait_for(
            lambda: (
                has_data(base, "gateway_time_to_first_token_seconds_count")
                and has_data(base, "llamacpp:tokens_predicted_total")
                and has_data(base, "inference_admission_denials_total")
                and has_data(base, "inference_download_bytes_total")
                and has_data(base, f'inference_quota_used{{subject="{QUOTA_USER}"}}')
                and has_data(base, RECONCILES)
            ),
            timeout=60,
            what="gateway, llama.cpp, admission, quota and download series in Prometheus",
        )
        _gateway_traffic(gateway_url, 6)
        _admission_traffic(services, 2)
        _operator_traffic(operator, 2)
        _import(services, _publish_model(s3, services.source_bucket, work))
        wait_for(
            lambda: (
                has_data(base, "sum(increase(gateway_time_to_first_token_seconds_count[1h])) > 0")
                and has_data(base, "sum(increase(llamacpp:tokens_predicted_total[1h])) > 0")
                and has_data(base, "sum(increase(inference_admission_denials_total[1h])) > 0")
                and has_data(base, "sum(increase(inference_download_bytes_total[1h])) > 0")
                and has_data(base, f"sum(increase({RECONCILES}[1h])) > 0")
            ),
            timeout=60,
            what="the second round of traffic in Prometheus",
        )
        yield Observed(base, llama, hook, webhook_token, kwok_pod)
    finally:
        for process in reversed(processes):
            stop_process(process, grace=10)
        rig.close()
        server.shutdown()
        tokens.close()
        core.delete_namespace(namespace)


def _targets(prometheus: str, state: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{prometheus}/api/v1/targets", params={"state": state}, timeout=10).json()
    key = "activeTargets" if state == "active" else "droppedTargets"
    targets: list[dict[str, Any]] = body["data"][key]
    return targets


def test_pod_discovery_lists_a_kwok_node_only_when_asked_and_never_scrapes_it(
    observed: Observed,
) -> None:
    def kwok_pod_listed() -> bool:
        return any(
            t["discoveredLabels"].get("__meta_kubernetes_pod_name") == observed.kwok_pod
            for t in _targets(observed.prometheus, "dropped")
            if t["discoveredLabels"].get("job") == "kwok-node-pods"
        )

    wait_for(kwok_pod_listed, timeout=60, what="the kwok pod in the kwok-node job")
    every = _targets(observed.prometheus, "active") + _targets(observed.prometheus, "dropped")
    for target in every:
        labels = target.get("discoveredLabels", target.get("labels", {}))
        if labels.get("job") == "local-node-pods":
            assert labels.get("__meta_kubernetes_pod_node_name") == "local-node"
    scraped = {t["scrapeUrl"] for t in _targets(observed.prometheus, "active")}
    assert all("127.0.0.1" in url or "10.244.0." in url for url in scraped), scraped


def _panel_queries() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                found.append((path.name, panel["title"], target["expr"]))
    return found


def _substitute(expr: str) -> str:
    for name in ("server_uuid", "model", "Hostname"):
        expr = expr.replace(f"${name}", ".*")
    return expr.replace("$__rate_interval", RATE_WINDOW)


@pytest.mark.parametrize(("board", "title", "expr"), _panel_queries(), ids=lambda v: str(v)[:40])
def test_every_dashboard_panel_query_runs_and_has_data(
    observed: Observed, board: str, title: str, expr: str
) -> None:
    promql = _substitute(expr)
    if board in NO_DATA_HERE:
        query(observed.prometheus, promql)  # valid PromQL, answered without error
        return
    wait_for(
        lambda: has_data(observed.prometheus, promql),
        timeout=30,
        what=f"data for {board} / {title}: {promql}",
    )


def _rule_exprs() -> list[str]:
    return [
        rule["expr"]
        for path in observability.RULES_DIR.glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def platform_series_named() -> set[str]:
    """Every `inference_*` series the alert/recording rules and the dashboards' panels read."""
    exprs = [*_rule_exprs(), *(expr for _, _, expr in _panel_queries())]
    return {name for expr in exprs for name in PLATFORM_SERIES.findall(expr)}


def test_every_platform_series_the_rules_and_boards_read_is_exported(observed: Observed) -> None:
    named = platform_series_named()
    assert {"inference_quota_used", "inference_download_bytes_total"} <= named
    for name in sorted(named):
        result = query(observed.prometheus, f'{{__name__="{name}"}}')["data"]["result"]
        assert result, f"{name} is read by a rule or panel but no service exports it"
        wanted = LABELS_READ.get(name, set())
        assert all(wanted <= set(r["metric"]) for r in result), (name, wanted, result[0])


async def test_health_score_signals_come_from_the_real_prometheus(observed: Observed) -> None:
    from inference_api.health_score import score_platform
    from inference_api.prometheus_signals import read_signals

    async with httpx.AsyncClient(timeout=10) as http:
        signals = await read_signals(http, observed.prometheus)
    server = next(s for s in signals if s.server_uuid == SERVER_UUID)
    assert (server.model, server.replicas, server.replicas_ready) == (REGISTRY_NAME, 1, 1)
    assert server.ttft_p95_seconds is not None
    assert server.ttft_p95_seconds > 0
    platform = score_platform(signals, ttft_target_seconds=60.0)
    assert 0 <= platform.score <= 100
    assert SERVER_UUID in [s.server_uuid for s in platform.servers]


def test_a_killed_llama_server_reaches_the_webhook_as_target_down(observed: Observed) -> None:
    assert has_data(observed.prometheus, f'up{{server_uuid="{SERVER_UUID}"}} == 1')
    observed.llama.kill()
    observed.llama.wait(timeout=30)

    def delivered() -> dict[str, Any] | None:
        for token, payload in observed.webhook.received:
            for alert in payload["alerts"]:
                if (
                    alert["labels"].get("alertname") == "LlamaCppTargetDown"
                    and alert["status"] == "firing"
                ):
                    assert token == f"Bearer {observed.webhook_token}"
                    return alert
        return None

    alert = wait_for(delivered, timeout=90, interval=0.5, what="LlamaCppTargetDown at the webhook")
    assert alert["labels"]["server_uuid"] == SERVER_UUID
    assert alert["labels"]["model"] == REGISTRY_NAME
