"""Brings the local stack up and down: network, credentials, then each component in
dependency order, each waited on until healthy (its log tail is printed when it is not)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from inference_localstack import (
    components,
    contract_webhook,
    frontend,
    network,
    observability,
    pki,
    platform_services,
    postgres,
    processes,
    quant_cluster,
    state_dirs,
    ui_process,
)
from inference_localstack.cluster_objects import gpu_nodes, rbac_objects
from inference_localstack.config import REPO_ROOT, StackConfig
from inference_localstack.launch import (
    StackError,
    healthy,
    say,
    start_component,
    start_components,
)

TOOLCHAIN = REPO_ROOT / "infra" / "local" / "toolchain.sh"
MODELSERVE_CRD = REPO_ROOT / "crds" / "modelserve.yaml"
TRAEFIK_CLUSTER_ROLE = "traefik-ingress-controller"
# Stopped in this order; started in the reverse.
COMPONENT_ORDER = [
    "ui",
    "download",
    "prometheus",
    "alertmanager",
    "gateway",
    "api",
    "contract",
    "operator",
    "node-runtime",
    "traefik",
    "kwok",
    "kube-scheduler",
    "kube-controller-manager",
    "kube-apiserver",
    "etcd",
    "minio-quant",
    "minio",
    "postgres",
]

# Monitoring: started by `up`, but a stack without it still serves, so a test session does
# not restart the stack for it.
OPTIONAL_COMPONENTS = {"prometheus", "alertmanager"}


PLATFORM_SERVICES = ("gateway", "api", "operator")


def toolchain_bin_dir(build: bool = True) -> Path:
    args = [str(TOOLCHAIN)] if build else [str(TOOLCHAIN), "--bin-dir"]
    result = subprocess.run(args, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise StackError("the toolchain build failed (its output is above)")
    return Path(result.stdout.strip().splitlines()[-1])


def check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise StackError("the stack creates network namespaces and needs root (run it as root)")
    for tool, package in (("ip", "iproute2"), ("openssl", "openssl")):
        if not shutil.which(tool):
            raise StackError(f"{tool} not found: apt-get install {package}")


# --- kubernetes objects --------------------------------------------------------------


def kubectl(config: StackConfig, bin_dir: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [str(bin_dir / "kubectl"), f"--kubeconfig={config.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


APPLY = ("apply", "--server-side", "--force-conflicts", "--field-manager=localstack", "-f")


def apply_objects(config: StackConfig, bin_dir: Path, objects: list[dict[str, Any]]) -> None:
    kubectl(config, bin_dir, *APPLY, "-", stdin=yaml.safe_dump_all(objects, sort_keys=False))


def apply_file(config: StackConfig, bin_dir: Path, path: Path) -> None:
    kubectl(config, bin_dir, *APPLY, str(path))


def share_dir(bin_dir: Path, tool: str) -> Path:
    """Files a tool's build keeps beside its binaries (Traefik's CRDs, kwok's stages)."""
    return (bin_dir / tool).resolve().parent.parent / "share"


def bootstrap_cluster(config: StackConfig, bin_dir: Path) -> None:
    share = share_dir(bin_dir, "traefik")
    apply_file(config, bin_dir, share / "traefik-crds.yaml")
    traefik_rbac = [
        doc
        for doc in yaml.safe_load_all((share / "traefik-rbac.yaml").read_text())
        if doc and doc.get("kind") == "ClusterRole"
    ]
    apply_objects(config, bin_dir, traefik_rbac + rbac_objects(TRAEFIK_CLUSTER_ROLE))
    apply_objects(config, bin_dir, gpu_nodes(config.gpu_nodes, config.network))
    for manifest in (MODELSERVE_CRD, platform_services.OPERATOR_RBAC):
        apply_file(config, bin_dir, manifest)
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": platform_services.SERVERS_NAMESPACE},
    }
    apply_objects(config, bin_dir, [namespace])


# --- object store ------------------------------------------------------------------


def ensure_buckets(config: StackConfig, creds: pki.Secrets) -> None:
    from inference_common.s3 import ensure_bucket
    from inference_common.settings import MODELS_BUCKET, QUANT_BUCKET

    client = platform_services.object_store(config, creds)
    for bucket in (MODELS_BUCKET, QUANT_BUCKET):
        ensure_bucket(client, bucket)


# --- env file ------------------------------------------------------------------------


def env_values(config: StackConfig, creds: pki.Secrets, bin_dir: Path) -> dict[str, str]:
    p = config.ports
    return {
        "LOCAL_STATE_DIR": str(config.state_dir),
        "KUBECONFIG": str(config.kubeconfig),
        "DATABASE_URL": postgres.database_url(config, creds),
        "S3_ENDPOINT": f"127.0.0.1:{p.minio}",
        "S3_ACCESS_KEY": creds.minio_user,
        "S3_SECRET_KEY": creds.minio_password,
        "S3_SECURE": "false",
        "TRAEFIK_URL": f"http://127.0.0.1:{p.traefik_web}",
        **platform_services.service_urls(config),
        "FRONTEND_URL": ui_process.frontend_url(config),
        **quant_cluster.env_values(config, creds),
        "PROMETHEUS_URL": observability.prometheus_url(config),
        "ALERTMANAGER_URL": observability.alertmanager_url(config),
        "ADMIN_USERNAME": platform_services.ADMIN_USERNAME,
        "ADMIN_PASSWORD": creds.admin_password,
        "JWT_SECRET": creds.jwt_secret,
        "SERVER_UUID_KEY": creds.server_uuid_key,
        "DEV_MODE": "true",
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
    }


def write_env(config: StackConfig, values: dict[str, str]) -> None:
    lines = ["# Written by `make up`: source it with `. .local/env`."]
    for key, value in values.items():
        if key == "PATH":
            lines.append(f'export PATH="{value.split(":", 1)[0]}:$PATH"')
        else:
            lines.append(f"export {key}='{value}'")
    config.env_file.write_text("\n".join(lines) + "\n")
    config.env_file.chmod(0o600)


def read_env(config: StackConfig) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in config.env_file.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export ") :].split("=", 1)
            values[key] = value.strip("'\"")
    return values


# --- up / down -----------------------------------------------------------------------


def up(config: StackConfig | None = None) -> dict[str, str]:
    config = config or StackConfig()
    t_start = time.monotonic()
    check_prerequisites()
    bin_dir = toolchain_bin_dir(build=True)
    pg_bin = postgres.postgres_bin_dir()
    state_dirs.secure(config)
    network.up(config.network)
    pki.ensure_certificates(config)
    pki.ensure_etcd_certificates(config)
    pki.ensure_serving_certificate(config, pki.CONTRACT_WEBHOOK_CERT, ["IP:127.0.0.1"])
    tokens_file = config.pki_dir / "tokens.csv"
    tokens_before = tokens_file.read_text() if tokens_file.exists() else ""
    creds = pki.ensure_secrets(config)
    if tokens_file.read_text() != tokens_before:
        processes.stop(config, "kube-apiserver")  # it reads the token file only at start
    pki.write_kubeconfigs(config, creds)
    postgres.prepare_postgres(config, pg_bin, creds)
    config.data_dir("minio").mkdir(parents=True, exist_ok=True)
    config.data_dir("minio-quant").mkdir(parents=True, exist_ok=True)

    # Independent groups start side by side: the control plane, Postgres, MinIO.
    def control_plane() -> None:
        if start_component(config, components.etcd(config, bin_dir)):
            # an apiserver of an older stack still dials the plain-HTTP etcd
            processes.stop(config, "kube-apiserver")
        start_component(config, components.kube_apiserver(config, bin_dir))
        bootstrap_cluster(config, bin_dir)
        traefik_cfg = components.traefik_config_path(config)
        traefik_cfg.parent.mkdir(parents=True, exist_ok=True)
        traefik_cfg.touch(mode=0o600, exist_ok=True)
        traefik_cfg.write_text(
            yaml.safe_dump(
                components.traefik_static_config(config, creds.tokens["traefik"]), sort_keys=False
            )
        )
        start_components(
            config,
            components.kube_controller_manager(config, bin_dir),
            components.kube_scheduler(config, bin_dir),
            components.kwok(config, bin_dir, share_dir(bin_dir, "kwok") / "stages.yaml"),
            components.traefik(config, bin_dir),
            components.local_kubelet(config, sys.executable),
        )
        kubectl(config, bin_dir, "wait", "--for=condition=Ready", "node", "--all", "--timeout=90s")

    def database() -> None:
        component = components.postgres(config, pg_bin)
        if processes.running_pid(config, "postgres") is None:
            processes.start(config, component.name, component.argv, user=component.user)
        postgres.wait_postgres(config, pg_bin)
        if asyncio.run(postgres.ensure_app_role(config, creds)):
            for name in PLATFORM_SERVICES:  # they hold the role's former password
                processes.stop(config, name)

    def object_store() -> None:
        start_components(
            config,
            components.minio(config, bin_dir, creds),
            components.quant_minio(config, bin_dir, creds),
        )
        ensure_buckets(config, creds)
        platform_services.ensure_scoped_users(config, creds)
        if quant_cluster.seed(config, creds):
            say(f"minio-quant: published {quant_cluster.SEED_NAME} as {quant_cluster.SEED_UUID}")

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(fn) for fn in (control_plane, database, object_store)]
        for future in futures:
            future.result()

    db_url = postgres.database_url(config, creds)
    # The contract service first: the API reserves through it, and its webhook decides
    # every ModelServe write once registered (fail closed), so it must be healthy first.
    start_component(config, platform_services.contract(config, creds, db_url))
    register_contract_webhook(config, bin_dir)
    start_components(
        config,
        platform_services.operator(config, creds, db_url),
        platform_services.api(config, creds, db_url),
        platform_services.gateway(config, creds, db_url),
    )
    # after the API, which has upgraded the schema the download service's jobs live in
    start_component(config, platform_services.download(config, creds, db_url))
    observability.write_stack_files(config, creds.tokens["prometheus"], creds.alert_webhook_token)
    observability.reload(config)
    start_components(config, *observability.stack_components(config, bin_dir))
    platform_services.register_embedded_model(config, creds)
    removed = platform_services.remove_legacy_fetch_secrets(config)
    if removed:
        say(f"removed {removed} fetch Secrets of an older operator (they held a MinIO key)")
    start_ui(config)

    state_dirs.secure(config)  # folders the components made on their first start
    values = env_values(config, creds, bin_dir)
    write_env(config, values)
    say(f"up in {time.monotonic() - t_start:.1f}s; `. {config.env_file}` to use it")
    return values


def register_contract_webhook(config: StackConfig, bin_dir: Path) -> None:
    ca_pem = (config.pki_dir / "ca.crt").read_bytes()
    url = platform_services.contract_webhook_url(config)
    apply_objects(config, bin_dir, [contract_webhook.webhook_configuration(url, ca_pem)])
    say(f"contract: webhook {contract_webhook.NAME} registered (failurePolicy Fail)")


def unregister_contract_webhook(config: StackConfig) -> None:
    """Before the contract service stops: with it gone, the registered webhook would refuse
    every ModelServe write. Skipped when the apiserver is not running."""
    if processes.running_pid(config, "kube-apiserver") is None or not config.kubeconfig.exists():
        return
    try:
        bin_dir = toolchain_bin_dir(build=False)
        kubectl(
            config,
            bin_dir,
            "delete",
            "validatingwebhookconfiguration",
            contract_webhook.NAME,
            "--ignore-not-found",
            "--request-timeout=10s",
        )
    except StackError as exc:
        say(f"contract: the webhook configuration was not deleted: {exc}")


def start_ui(config: StackConfig) -> None:
    """Builds the web UI when its sources changed (npm ci + vite build) and serves it at
    FRONTEND_URL; a UI server already running keeps serving (its files are read per request)."""
    try:
        dist = frontend.ensure_built()
    except frontend.NodeMissingError as exc:
        raise StackError(str(exc)) from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise StackError(f"building the web UI failed ({exc}); see the npm output above") from exc
    start_component(config, ui_process.ui_component(config, dist))


def down(config: StackConfig | None = None) -> None:
    config = config or StackConfig()
    unregister_contract_webhook(config)
    for name in COMPONENT_ORDER:
        # Postgres: SIGTERM waits for clients to leave; SIGINT is its fast shutdown.
        processes.stop(config, name, sig=signal.SIGINT if name == "postgres" else signal.SIGTERM)
    network.down(config.network)
    say("down: no stack process or network namespace is left")


def status(config: StackConfig | None = None) -> dict[str, bool]:
    config = config or StackConfig()
    result = {
        name: processes.running_pid(config, name) is not None for name in reversed(COMPONENT_ORDER)
    }
    result["network"] = network.is_up(config.network)
    return result


def is_healthy(config: StackConfig | None = None) -> bool:
    """True when every part runs and the env file exists: a running stack can be reused."""
    config = config or StackConfig()
    required = {k: v for k, v in status(config).items() if k not in OPTIONAL_COMPONENTS}
    if not config.env_file.exists() or not all(required.values()):
        return False
    bin_dir = toolchain_bin_dir(build=False)
    return healthy(components.kube_apiserver(config, bin_dir), None)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))
