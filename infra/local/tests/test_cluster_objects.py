"""Pure parts of the stack: node manifests, network commands, component command lines."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from inference_localstack import components, contract_webhook, network, pki, platform_services
from inference_localstack.cluster_objects import gpu_nodes, kwok_pod_cidr, rbac_objects
from inference_localstack.config import GpuNodeType, Network, StackConfig, parse_gpu_nodes
from inference_localstack.pki import apiserver_sans
from inference_testkit.namespaces import CONTRACT_WEBHOOK_OFF

NET = Network()


@pytest.mark.parametrize(
    ("index", "expected"),
    [(0, "10.244.1.0/24"), (1, "10.244.2.0/24"), (9, "10.244.10.0/24")],
)
def test_kwok_pod_ranges_skip_the_local_bridge_range(index: int, expected: str) -> None:
    assert kwok_pod_cidr(NET, index) == expected


@pytest.mark.parametrize(
    ("types", "names", "gpus"),
    [
        (
            [GpuNodeType("NVIDIA-GeForce-RTX-4090", 24564, 4, 2)],
            ["kwok-geforce-rtx-4090-0", "kwok-geforce-rtx-4090-1"],
            ["4", "4"],
        ),
        (
            [
                GpuNodeType("NVIDIA-GeForce-RTX-3090", 24576, 2, 1),
                GpuNodeType("NVIDIA-GeForce-RTX-4060-Ti", 16380, 1, 1),
            ],
            ["kwok-geforce-rtx-3090-0", "kwok-geforce-rtx-4060-ti-1"],
            ["2", "1"],
        ),
    ],
)
def test_gpu_nodes_carry_capacity_and_feature_discovery_labels(
    types: list[GpuNodeType], names: list[str], gpus: list[str]
) -> None:
    nodes = gpu_nodes(types, NET)
    assert [n["metadata"]["name"] for n in nodes] == names
    assert [n["status"]["capacity"]["nvidia.com/gpu"] for n in nodes] == gpus
    for node, node_type in zip(nodes, [t for t in types for _ in range(t.count)], strict=True):
        labels = node["metadata"]["labels"]
        assert labels["nvidia.com/gpu.product"] == node_type.product
        assert labels["nvidia.com/gpu.memory"] == str(node_type.memory_mib)
        assert node["metadata"]["annotations"][components.KWOK_NODE_ANNOTATION] == "fake"
        assert node["spec"]["podCIDR"].startswith("10.244.")
        assert node["spec"]["podCIDR"] != NET.local_pod_cidr


def test_parse_gpu_nodes_reads_json_and_refuses_other_shapes() -> None:
    parsed = parse_gpu_nodes('[{"product": "NVIDIA-A10", "memory_mib": 23028, "gpus": 1}]')
    assert parsed == [GpuNodeType("NVIDIA-A10", 23028, 1, 1)]
    with pytest.raises(ValueError, match="JSON list"):
        parse_gpu_nodes('{"product": "x"}')


def test_every_cluster_range_is_routed_into_the_sink_namespace() -> None:
    commands = network.setup_commands(NET)
    routes = {c[2]: c for c in commands if c[:2] == ["route", "replace"]}
    assert set(routes) == {NET.pod_cidr, NET.service_cidr}
    for route in routes.values():
        assert route[route.index("via") + 1] == NET.sink_ip
        assert route[route.index("dev") + 1] == NET.sink_veth
    # node range: connected to the veth whose other end is in the sink namespace
    assert ["addr", "add", f"{NET.host_node_ip}/24", "dev", NET.sink_veth] in commands
    assert not any("default" in c for c in commands)


def test_apiserver_uses_token_auth_and_rbac_and_its_certificate_names_its_addresses() -> None:
    cfg = StackConfig()
    argv = components.kube_apiserver(cfg, Path("/bin")).argv
    assert any(a.startswith("--token-auth-file=") for a in argv)
    assert "--authorization-mode=RBAC" in argv
    assert f"--advertise-address={NET.host_node_ip}" in argv
    assert "--bind-address=127.0.0.1" in argv
    sans = apiserver_sans(cfg)
    assert {"IP:127.0.0.1", f"IP:{NET.kubernetes_service_ip}", "DNS:kubernetes.default.svc"} <= set(
        sans
    )


def test_traefik_token_stays_off_the_command_line() -> None:
    cfg = StackConfig()
    component = components.traefik(cfg, Path("/bin"))
    static = components.traefik_static_config(cfg, "s3cr3t-token")
    assert not any("s3cr3t-token" in a for a in component.argv)
    assert static["providers"]["kubernetesCRD"]["token"] == "s3cr3t-token"  # type: ignore[index]
    assert static["global"] == {"checkNewVersion": False, "sendAnonymousUsage": False}


def test_every_daemon_listens_on_loopback_only() -> None:
    cfg = StackConfig()
    bin_dir = Path("/bin")
    argvs = [
        components.etcd(cfg, bin_dir).argv,
        components.kube_controller_manager(cfg, bin_dir).argv,
        components.kube_scheduler(cfg, bin_dir).argv,
        components.postgres(cfg, bin_dir).argv,
    ]
    joined = " ".join(" ".join(a) for a in argvs)
    assert "0.0.0.0" not in joined
    static = components.traefik_static_config(cfg, "t")
    for entry in static["entryPoints"].values():  # type: ignore[attr-defined]
        assert entry["address"].startswith("127.0.0.1:")


def test_rbac_binds_each_identity_to_its_role() -> None:
    objects = rbac_objects("traefik-ingress-controller")
    bindings = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ClusterRoleBinding"}
    assert bindings["local:traefik"]["roleRef"]["name"] == "traefik-ingress-controller"
    assert bindings["local:kwok"]["subjects"][0]["name"] == "local:kwok"


def test_contract_webhook_fails_closed_for_modelserves_and_their_scale_only() -> None:
    doc = contract_webhook.webhook_configuration("https://127.0.0.1:8204/admission/x", b"PEM")
    (hook,) = doc["webhooks"]
    assert hook["failurePolicy"] == "Fail"
    assert hook["sideEffects"] == "NoneOnDryRun"
    assert hook["timeoutSeconds"] <= 10
    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == b"PEM"
    (rule,) = hook["rules"]
    assert rule["resources"] == ["modelserves", "modelserves/scale"]
    assert rule["operations"] == ["CREATE", "UPDATE"]
    excluded = {e["key"]: e["values"] for e in hook["namespaceSelector"]["matchExpressions"]}
    assert excluded == {
        "kubernetes.io/metadata.name": ["kube-system"],
        contract_webhook.OFF_LABEL: ["off"],
    }
    # the testkit's namespaces carry exactly the label the webhook skips
    assert CONTRACT_WEBHOOK_OFF == {contract_webhook.OFF_LABEL: "off"}


def test_contract_service_listens_on_loopback_with_its_webhook_cert_and_exempts_the_operator(
    tmp_path: Path,
) -> None:
    cfg = StackConfig()
    private = StackConfig(state_dir=tmp_path)
    private.pki_dir.mkdir()
    creds = pki.ensure_secrets(private)
    component = platform_services.contract(cfg, creds, "postgresql+asyncpg://x")
    env = component.env
    assert env["HOST"] == "127.0.0.1"
    assert (env["PORT"], env["WEBHOOK_PORT"]) == ("8201", "8204")
    assert env["WEBHOOK_TLS_CERT_FILE"].endswith("contract-webhook.crt")
    assert env["KUBECONFIG"].endswith("contract.kubeconfig")
    assert json.loads(env["EXEMPT_USERS"]) == [pki.IDENTITIES["operator"][0]]
    assert component.health_url == "https://127.0.0.1:8204/health"
    assert platform_services.service_urls(cfg)["CONTRACT_URL"] == "http://127.0.0.1:8201"
    assert platform_services.api(cfg, creds, "x").env["CONTRACT_URL"] == "http://127.0.0.1:8201"
    roles = {o["metadata"]["name"]: o for o in rbac_objects("t") if o["kind"] == "ClusterRole"}
    scale = {"apiGroups": ["inference-service.dev"], "resources": ["modelserves/scale"]}
    assert {**scale, "verbs": ["get", "patch", "update"]} in roles["local:inference-api"]["rules"]
    assert roles["local:inference-contract"]["rules"] == [
        {
            "apiGroups": ["inference-service.dev"],
            "resources": ["modelserves"],
            "verbs": ["get", "list", "watch"],
        },
        # the webhook watches the names a new ModelServe's children would take
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["services"], "verbs": ["list", "watch"]},
        {"apiGroups": ["traefik.io"], "resources": ["ingressroutes"], "verbs": ["list", "watch"]},
    ]


def test_contract_webhook_certificate_is_signed_by_the_stack_ca_for_loopback(
    tmp_path: Path,
) -> None:
    cfg = StackConfig(state_dir=tmp_path)
    pki.ensure_certificates(cfg)
    pki.ensure_serving_certificate(cfg, pki.CONTRACT_WEBHOOK_CERT, ["IP:127.0.0.1"])
    crt = cfg.pki_dir / "contract-webhook.crt"
    verified = subprocess.run(
        ["openssl", "verify", "-CAfile", str(cfg.pki_dir / "ca.crt"), str(crt)],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr
    text = subprocess.run(
        ["openssl", "x509", "-in", str(crt), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "IP Address:127.0.0.1" in text
    assert (cfg.pki_dir / "contract-webhook.key").stat().st_mode & 0o777 == 0o600
