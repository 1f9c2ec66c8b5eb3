"""Where the local stack lives and which addresses it uses. Every value can be overridden
from the environment (names in capitals below), so two checkouts can run side by side."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class GpuNodeType:
    """One kind of simulated GPU node, labelled as NVIDIA's GPU feature discovery labels it."""

    product: str
    memory_mib: int
    gpus: int
    count: int


DEFAULT_GPU_NODES = [GpuNodeType("NVIDIA-GeForce-RTX-4090", 24564, gpus=4, count=2)]


def parse_gpu_nodes(spec: str) -> list[GpuNodeType]:
    """`LOCAL_GPU_NODES`: a JSON list such as
    [{"product": "NVIDIA-GeForce-RTX-3090", "memory_mib": 24576, "gpus": 2, "count": 1}]."""
    items = json.loads(spec)
    if not isinstance(items, list):
        raise ValueError("LOCAL_GPU_NODES must be a JSON list of node types")
    return [
        GpuNodeType(str(i["product"]), int(i["memory_mib"]), int(i["gpus"]), int(i.get("count", 1)))
        for i in items
    ]


@dataclass(frozen=True)
class Ports:
    etcd: int = int(_env("LOCAL_ETCD_PORT", "12379"))
    etcd_peer: int = int(_env("LOCAL_ETCD_PEER_PORT", "12380"))
    apiserver: int = int(_env("LOCAL_APISERVER_PORT", "6443"))
    controller_manager: int = int(_env("LOCAL_CONTROLLER_MANAGER_PORT", "10257"))
    scheduler: int = int(_env("LOCAL_SCHEDULER_PORT", "10259"))
    kwok: int = int(_env("LOCAL_KWOK_PORT", "10247"))
    node_runtime: int = int(_env("LOCAL_NODE_RUNTIME_PORT", "10248"))
    kubelet: int = int(_env("LOCAL_KUBELET_PORT", "10250"))
    """The local kubelet's TLS API (container logs), on loopback (the Node's InternalDNS)."""
    postgres: int = int(_env("LOCAL_POSTGRES_PORT", "15432"))
    minio: int = int(_env("LOCAL_MINIO_PORT", "9000"))
    minio_console: int = int(_env("LOCAL_MINIO_CONSOLE_PORT", "9001"))
    quant_minio: int = int(_env("LOCAL_QUANT_MINIO_PORT", "9002"))
    quant_minio_console: int = int(_env("LOCAL_QUANT_MINIO_CONSOLE_PORT", "9003"))
    traefik_web: int = int(_env("LOCAL_TRAEFIK_PORT", "8080"))
    traefik_admin: int = int(_env("LOCAL_TRAEFIK_ADMIN_PORT", "8089"))
    api: int = int(_env("LOCAL_API_PORT", "8200"))
    contract: int = int(_env("LOCAL_CONTRACT_PORT", "8201"))
    download: int = int(_env("LOCAL_DOWNLOAD_PORT", "8202"))
    contract_webhook: int = int(_env("LOCAL_CONTRACT_WEBHOOK_PORT", "8204"))
    gateway: int = int(_env("LOCAL_GATEWAY_PORT", "8203"))
    frontend: int = int(_env("LOCAL_FRONTEND_PORT", "5173"))
    operator: int = int(_env("LOCAL_OPERATOR_HEALTH_PORT", "8210"))
    operator_metrics: int = int(_env("LOCAL_OPERATOR_METRICS_PORT", "8211"))
    prometheus: int = int(_env("LOCAL_PROMETHEUS_PORT", "9090"))
    alertmanager: int = int(_env("LOCAL_ALERTMANAGER_PORT", "9093"))


@dataclass(frozen=True)
class Network:
    """Every range the cluster uses is routed into namespaces the stack owns; none leaves.

    - node_cidr: addresses of the (simulated) nodes and the apiserver's advertised address;
      connected to the sink namespace.
    - pod_cidr: all pod IPs; routed into the sink namespace except `local_pod_cidr`, which is
      a bridge on this machine for pods and test hosts that really run here.
    - service_cidr: ClusterIPs; routed into the sink. Nothing dials a ClusterIP.
    """

    node_cidr: str = _env("LOCAL_NODE_CIDR", "10.250.0.0/24")
    host_node_ip: str = _env("LOCAL_HOST_NODE_IP", "10.250.0.1")
    sink_ip: str = _env("LOCAL_SINK_IP", "10.250.0.2")
    pod_cidr: str = _env("LOCAL_POD_CIDR", "10.244.0.0/16")
    local_pod_cidr: str = _env("LOCAL_LOCAL_POD_CIDR", "10.244.0.0/24")
    local_pod_gateway: str = _env("LOCAL_LOCAL_POD_GATEWAY", "10.244.0.1")
    service_cidr: str = _env("LOCAL_SERVICE_CIDR", "10.96.0.0/16")
    kubernetes_service_ip: str = _env("LOCAL_KUBERNETES_SERVICE_IP", "10.96.0.1")
    prefix: str = _env("LOCAL_NETNS_PREFIX", "infsvc")

    @property
    def sink_netns(self) -> str:
        return f"{self.prefix}-sink"

    @property
    def sink_veth(self) -> str:
        return f"{self.prefix}-sink0"

    @property
    def bridge(self) -> str:
        return f"{self.prefix}-br0"


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path = Path(_env("LOCAL_STATE_DIR", str(REPO_ROOT / ".local")))
    local_node_name: str = _env("LOCAL_NODE_NAME", "local-node")
    ports: Ports = field(default_factory=Ports)
    network: Network = field(default_factory=Network)
    gpu_nodes: list[GpuNodeType] = field(
        default_factory=lambda: (
            parse_gpu_nodes(os.environ["LOCAL_GPU_NODES"])
            if os.environ.get("LOCAL_GPU_NODES")
            else list(DEFAULT_GPU_NODES)
        )
    )

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env"

    def data_dir(self, component: str) -> Path:
        return self.state_dir / "data" / component
