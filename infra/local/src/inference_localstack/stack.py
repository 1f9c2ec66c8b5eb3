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

import httpx
import yaml

from inference_localstack import (
    components,
    network,
    observability,
    pki,
    platform_services,
    processes,
)
from inference_localstack.cluster_objects import gpu_nodes, rbac_objects
from inference_localstack.components import Component
from inference_localstack.config import REPO_ROOT, StackConfig

TOOLCHAIN = REPO_ROOT / "infra" / "local" / "toolchain.sh"
MODELSERVE_CRD = REPO_ROOT / "crds" / "modelserve.yaml"
TRAEFIK_CLUSTER_ROLE = "traefik-ingress-controller"
# Stopped in this order; started in the reverse.
COMPONENT_ORDER = [
    "prometheus",
    "alertmanager",
    "gateway",
    "api",
    "operator",
    "node-runtime",
    "traefik",
    "kwok",
    "kube-scheduler",
    "kube-controller-manager",
    "kube-apiserver",
    "etcd",
    "minio",
    "postgres",
]

# Monitoring: started by `up`, but a stack without it still serves, so a test session does
# not restart the stack for it.
OPTIONAL_COMPONENTS = {"prometheus", "alertmanager"}


class StackError(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


def toolchain_bin_dir(build: bool = True) -> Path:
    args = [str(TOOLCHAIN)] if build else [str(TOOLCHAIN), "--bin-dir"]
    result = subprocess.run(args, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise StackError("the toolchain build failed (its output is above)")
    return Path(result.stdout.strip().splitlines()[-1])


def postgres_bin_dir() -> Path:
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True
        ).stdout.strip()
        if (Path(found) / "initdb").exists():
            return Path(found)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not candidates:
        raise StackError("PostgreSQL server binaries not found: apt-get install postgresql")
    return candidates[0].parent


def check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise StackError("the stack creates network namespaces and needs root (run it as root)")
    for tool, package in (("ip", "iproute2"), ("openssl", "openssl")):
        if not shutil.which(tool):
            raise StackError(f"{tool} not found: apt-get install {package}")


# --- waiting -------------------------------------------------------------------------


def _healthy(component: Component, ca: Path | None) -> bool:
    verify: bool | str = str(ca) if (component.verify_tls and ca) else False
    try:
        response = httpx.get(component.health_url, verify=verify, timeout=2.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and component.healthy_body(response.text)


def wait_until(
    config: StackConfig, name: str, check: Any, timeout: float = 60.0, interval: float = 0.25
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if processes.running_pid(config, name) is None:
            break
        time.sleep(interval)
    raise StackError(
        f"{name} did not become healthy; last lines of {processes.log_file(config, name)}:\n"
        + processes.log_tail(config, name)
    )


def start_components(config: StackConfig, *parts: Component, timeout: float = 90.0) -> None:
    """Starts the parts that are not already running and healthy, side by side, then waits
    for each to become healthy."""
    ca = config.pki_dir / "ca.crt"
    launched: list[tuple[Component, float]] = []
    for component in parts:
        if processes.running_pid(config, component.name) is not None and _healthy(component, ca):
            say(f"{component.name}: already running")
            continue
        processes.stop(config, component.name)
        processes.start(config, component.name, component.argv, component.env, component.user)
        launched.append((component, time.monotonic()))
    for component, t0 in launched:
        wait_until(config, component.name, lambda c=component: _healthy(c, ca), timeout)
        say(f"{component.name}: healthy in {time.monotonic() - t0:.1f}s")


def start_component(config: StackConfig, component: Component, timeout: float = 90.0) -> None:
    start_components(config, component, timeout=timeout)


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


# --- postgres and minio --------------------------------------------------------------


def prepare_postgres(config: StackConfig, pg_bin: Path, creds: pki.Secrets) -> None:
    data = config.data_dir("postgres")
    pgdata = data / "pgdata"
    (data / "socket").mkdir(parents=True, exist_ok=True)
    shutil.chown(data, "postgres")
    shutil.chown(data / "socket", "postgres")
    if (pgdata / "PG_VERSION").exists():
        return
    say("postgres: initdb")
    pwfile = data / "initdb.pw"
    pwfile.write_text(creds.postgres_password)
    shutil.chown(pwfile, "postgres")
    pwfile.chmod(0o600)
    try:
        subprocess.run(
            [
                str(pg_bin / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user="postgres",
        )
    finally:
        pwfile.unlink(missing_ok=True)


def wait_postgres(config: StackConfig, pg_bin: Path) -> None:
    def ready() -> bool:
        return (
            subprocess.run(
                [
                    str(pg_bin / "pg_isready"),
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(config.ports.postgres),
                ],
            ).returncode
            == 0
        )

    t0 = time.monotonic()
    wait_until(config, "postgres", ready, timeout=60)
    say(f"postgres: ready in {time.monotonic() - t0:.1f}s")


async def _ensure_database(config: StackConfig, creds: pki.Secrets) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=config.ports.postgres,
        user="postgres",
        password=creds.postgres_password,
        database="postgres",
    )
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'inference'"):
            # The password is generated from [A-Za-z0-9_-] only (token_urlsafe).
            await conn.execute(
                f"CREATE ROLE inference LOGIN CREATEDB PASSWORD '{creds.postgres_password}'"
            )
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'inference'"):
            await conn.execute("CREATE DATABASE inference OWNER inference")
    finally:
        await conn.close()


def database_url(config: StackConfig, creds: pki.Secrets, database: str = "inference") -> str:
    return (
        f"postgresql+asyncpg://inference:{creds.postgres_password}"
        f"@127.0.0.1:{config.ports.postgres}/{database}"
    )


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
        "DATABASE_URL": database_url(config, creds),
        "S3_ENDPOINT": f"127.0.0.1:{p.minio}",
        "S3_ACCESS_KEY": creds.minio_user,
        "S3_SECRET_KEY": creds.minio_password,
        "S3_SECURE": "false",
        "TRAEFIK_URL": f"http://127.0.0.1:{p.traefik_web}",
        **platform_services.service_urls(config),
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
    pg_bin = postgres_bin_dir()
    for d in (config.state_dir, config.run_dir, config.log_dir):
        d.mkdir(parents=True, exist_ok=True)
    network.up(config.network)
    pki.ensure_certificates(config)
    tokens_file = config.pki_dir / "tokens.csv"
    tokens_before = tokens_file.read_text() if tokens_file.exists() else ""
    creds = pki.ensure_secrets(config)
    if tokens_file.read_text() != tokens_before:
        processes.stop(config, "kube-apiserver")  # it reads the token file only at start
    pki.write_kubeconfigs(config, creds)
    prepare_postgres(config, pg_bin, creds)
    config.data_dir("minio").mkdir(parents=True, exist_ok=True)

    # Independent groups start side by side: the control plane, Postgres, MinIO.
    def control_plane() -> None:
        start_component(config, components.etcd(config, bin_dir))
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
        wait_postgres(config, pg_bin)
        asyncio.run(_ensure_database(config, creds))

    def object_store() -> None:
        start_component(config, components.minio(config, bin_dir, creds))
        ensure_buckets(config, creds)

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(fn) for fn in (control_plane, database, object_store)]
        for future in futures:
            future.result()

    db_url = database_url(config, creds)
    start_components(
        config,
        platform_services.operator(config, creds, db_url),
        platform_services.api(config, creds, db_url),
        platform_services.gateway(config, creds, db_url),
    )
    observability.write_stack_files(config, creds.tokens["prometheus"], creds.alert_webhook_token)
    observability.reload(config)
    start_components(config, *observability.stack_components(config, bin_dir))
    platform_services.register_embedded_model(config, creds)

    values = env_values(config, creds, bin_dir)
    write_env(config, values)
    say(f"up in {time.monotonic() - t_start:.1f}s; `. {config.env_file}` to use it")
    return values


def down(config: StackConfig | None = None) -> None:
    config = config or StackConfig()
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
    return _healthy(components.kube_apiserver(config, bin_dir), None)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))
