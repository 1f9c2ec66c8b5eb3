"""Each component of the stack: how it is started (a pure function of the config) and how
its health is checked. The orchestration in `stack.py` only runs these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from inference_localstack.config import StackConfig
from inference_localstack.pki import ETCD_SERVER, Secrets, etcd_client_cert, kubelet_client_cert


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    verify_tls: bool = False
    client_cert: tuple[Path, Path] | None = None
    """Certificate and key the health check presents (etcd requires one)."""
    healthy_body: Callable[[str], bool] = lambda _body: True


def etcd(cfg: StackConfig, bin_dir: Path) -> Component:
    """TLS on both ports; clients and the peer must present a certificate of the stack's CA."""
    p, pki = cfg.ports, cfg.pki_dir
    client = f"https://127.0.0.1:{p.etcd}"
    peer = f"https://127.0.0.1:{p.etcd_peer}"
    cert, key = pki / f"{ETCD_SERVER}.crt", pki / f"{ETCD_SERVER}.key"
    return Component(
        "etcd",
        [
            str(bin_dir / "etcd"),
            "--name=local",
            f"--data-dir={cfg.data_dir('etcd')}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=local={peer}",
            f"--cert-file={cert}",
            f"--key-file={key}",
            f"--trusted-ca-file={pki / 'ca.crt'}",
            "--client-cert-auth",
            f"--peer-cert-file={cert}",
            f"--peer-key-file={key}",
            f"--peer-trusted-ca-file={pki / 'ca.crt'}",
            "--peer-client-cert-auth",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
        f"{client}/health",
        verify_tls=True,
        client_cert=etcd_client_cert(cfg),
        healthy_body=lambda body: '"health":"true"' in body.replace(" ", ""),
    )


def kube_apiserver(cfg: StackConfig, bin_dir: Path) -> Component:
    pki, net = cfg.pki_dir, cfg.network
    etcd_cert, etcd_key = etcd_client_cert(cfg)
    kubelet_cert, kubelet_key = kubelet_client_cert(cfg)
    return Component(
        "kube-apiserver",
        [
            str(bin_dir / "kube-apiserver"),
            f"--etcd-servers=https://127.0.0.1:{cfg.ports.etcd}",
            f"--etcd-cafile={pki / 'ca.crt'}",
            f"--etcd-certfile={etcd_cert}",
            f"--etcd-keyfile={etcd_key}",
            "--bind-address=127.0.0.1",
            f"--secure-port={cfg.ports.apiserver}",
            f"--advertise-address={net.host_node_ip}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--token-auth-file={pki / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--anonymous-auth=true",
            f"--service-cluster-ip-range={net.service_cidr}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--allow-privileged=true",
            f"--kubelet-client-certificate={kubelet_cert}",
            f"--kubelet-client-key={kubelet_key}",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            "--kubelet-preferred-address-types=InternalDNS,InternalIP",
            "--profiling=false",
            "--v=1",
        ],
        f"https://127.0.0.1:{cfg.ports.apiserver}/readyz",
        healthy_body=lambda body: body.strip() == "ok",
    )


def kube_controller_manager(cfg: StackConfig, bin_dir: Path) -> Component:
    pki = cfg.pki_dir
    kubeconfig = pki / "controller-manager.kubeconfig"
    return Component(
        "kube-controller-manager",
        [
            str(bin_dir / "kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={cfg.ports.controller_manager}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            "--use-service-account-credentials=true",
            "--leader-elect=false",
            f"--service-cluster-ip-range={cfg.network.service_cidr}",
            "--controllers=*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle",
            "--v=1",
        ],
        f"https://127.0.0.1:{cfg.ports.controller_manager}/healthz",
        healthy_body=lambda body: body.strip() == "ok",
    )


def kube_scheduler(cfg: StackConfig, bin_dir: Path) -> Component:
    kubeconfig = cfg.pki_dir / "scheduler.kubeconfig"
    return Component(
        "kube-scheduler",
        [
            str(bin_dir / "kube-scheduler"),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={cfg.ports.scheduler}",
            "--leader-elect=false",
            "--v=1",
        ],
        f"https://127.0.0.1:{cfg.ports.scheduler}/healthz",
        healthy_body=lambda body: body.strip() == "ok",
    )


KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"


def kwok(cfg: StackConfig, bin_dir: Path, stages: Path) -> Component:
    """kwok drives the simulated nodes (annotated `kwok.x-k8s.io/node: fake`) through its own
    lifecycle stages (`stages`: node-initialize, node-heartbeat, pod-ready/complete/delete)."""
    return Component(
        "kwok",
        [
            str(bin_dir / "kwok"),
            f"--config={stages}",
            f"--kubeconfig={cfg.pki_dir / 'kwok.kubeconfig'}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
            f"--server-address=127.0.0.1:{cfg.ports.kwok}",
            "--cidr=10.244.254.0/24",
            f"--node-ip={cfg.network.sink_ip}",
        ],
        f"http://127.0.0.1:{cfg.ports.kwok}/healthz",
    )


def local_kubelet(cfg: StackConfig, python: str) -> Component:
    """The stand-in for kubelet that runs pods bound to this machine's node. Its component
    name, identity and port setting keep the older word `node-runtime`."""
    return Component(
        "node-runtime",
        [
            python,
            "-m",
            "inference_localstack.node.kubelet",
            f"--kubeconfig={cfg.pki_dir / 'node-runtime.kubeconfig'}",
            f"--node-name={cfg.local_node_name}",
            f"--health-port={cfg.ports.node_runtime}",
            f"--kubelet-port={cfg.ports.kubelet}",
        ],
        f"http://127.0.0.1:{cfg.ports.node_runtime}/healthz",
        healthy_body=lambda body: body.strip() == "ok",
    )


PG_HBA = """\
# Written by the local stack on every `up`; anything not matched here is refused.
# TYPE  DATABASE  USER      ADDRESS       METHOD
local   all       postgres                peer
local   all       all                     scram-sha-256
host    all       all       127.0.0.1/32  scram-sha-256
"""
"""The socket lets only the `postgres` OS user in as the superuser (and its directory is
private to that user); over TCP every role needs its password."""


def postgres(cfg: StackConfig, pg_bin: Path) -> Component:
    data = cfg.data_dir("postgres")
    return Component(
        "postgres",
        [
            str(pg_bin / "postgres"),
            "-D",
            str(data / "pgdata"),
            "-p",
            str(cfg.ports.postgres),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={data / 'socket'}",
            "-c",
            "unix_socket_permissions=0700",
            "-c",
            "password_encryption=scram-sha-256",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ],
        "",
        user="postgres",
    )


def _minio_server(
    name: str, bin_dir: Path, data: Path, port: int, console_port: int, user: str, password: str
) -> Component:
    return Component(
        name,
        [
            str(bin_dir / "minio"),
            "server",
            "--quiet",
            f"--address=127.0.0.1:{port}",
            f"--console-address=127.0.0.1:{console_port}",
            str(data),
        ],
        f"http://127.0.0.1:{port}/minio/health/ready",
        env={
            "MINIO_ROOT_USER": user,
            "MINIO_ROOT_PASSWORD": password,
            "MINIO_UPDATE": "off",
            "MINIO_CALLHOME_ENABLE": "off",
        },
    )


def minio(cfg: StackConfig, bin_dir: Path, creds: Secrets) -> Component:
    p = cfg.ports
    return _minio_server(
        "minio",
        bin_dir,
        cfg.data_dir("minio"),
        p.minio,
        p.minio_console,
        creds.minio_user,
        creds.minio_password,
    )


def quant_minio(cfg: StackConfig, bin_dir: Path, creds: Secrets) -> Component:
    """A second MinIO standing for the quantization cluster's own store (the download
    service's source): its own port, data and credentials."""
    p = cfg.ports
    return _minio_server(
        "minio-quant",
        bin_dir,
        cfg.data_dir("minio-quant"),
        p.quant_minio,
        p.quant_minio_console,
        creds.quant_minio_user,
        creds.quant_minio_password,
    )


def traefik_config_path(cfg: StackConfig) -> Path:
    return cfg.data_dir("traefik") / "traefik.yml"


def traefik_static_config(cfg: StackConfig, token: str) -> dict[str, object]:
    """Traefik reads its static configuration from one source only; a file (mode 0600,
    it holds the apiserver token) keeps the token off the command line."""
    p = cfg.ports
    return {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            "web": {"address": f"127.0.0.1:{p.traefik_web}"},
            "traefik": {"address": f"127.0.0.1:{p.traefik_admin}"},
        },
        "ping": {"entryPoint": "traefik"},
        "providers": {
            "providersThrottleDuration": "500ms",
            "kubernetesCRD": {
                "endpoint": f"https://127.0.0.1:{p.apiserver}",
                "token": token,
                "certAuthFilePath": str(cfg.pki_dir / "ca.crt"),
                "allowEmptyServices": True,
            },
        },
        "log": {"level": "INFO", "noColor": True},
        "accessLog": {},
    }


def traefik(cfg: StackConfig, bin_dir: Path) -> Component:
    return Component(
        "traefik",
        [str(bin_dir / "traefik"), f"--configFile={traefik_config_path(cfg)}"],
        f"http://127.0.0.1:{cfg.ports.traefik_admin}/ping",
        healthy_body=lambda body: body.strip() == "OK",
    )
