"""Table tests of the children built from a ModelServe spec."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from inference_common.gpus import GPU_MEMORY_LABEL, min_memory_mib
from inference_common.modelserve import MODELSERVE_LABEL, SERVER_UUID_LABEL, ModelServeSpec
from modelserve_operator.childmeta import FetchUrl, ManifestConfig, Owner
from modelserve_operator.fetchpod import fetch_holder, fetch_secret, fetch_slot_name
from modelserve_operator.kinds import CHILD_KINDS
from modelserve_operator.manifests import children, deployment, is_subset, service
from modelserve_operator.routing import authz_middleware, ingress_route, middleware, network_policy

SHA = "b" * 64
CONFIG = ManifestConfig(
    llama_image="llama:cpu",
    llama_cuda_image="llama:cuda",
    fetch_image="fetch:1",
    entry_point="web",
    signer_digest="d1",
)
FETCH = FetchUrl(
    url="http://minio:9000/inference-models/m.gguf?X-Amz-Signature=s1",
    signed=datetime(2026, 1, 1, 15, 4, 5, tzinfo=UTC),
    expires=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
)


MODEL: dict[str, Any] = {
    "name": "smollm2:135m",
    "source": {"s3": {"bucket": "inference-models", "key": "m.gguf"}},
    "sha256": SHA,
    "sizeBytes": 1000,
}


def owner(**spec: Any) -> Owner:
    base: dict[str, Any] = {"model": dict(MODEL)}
    base.update(spec)
    return Owner(
        name="sm",
        namespace="ns",
        uid="uid-1",
        server_uuid="7f0c",
        spec=ModelServeSpec.model_validate(base),
    )


def pod_spec(o: Owner) -> dict[str, Any]:
    spec: dict[str, Any] = deployment(o, CONFIG)["spec"]["template"]["spec"]
    return spec


def server(o: Owner) -> dict[str, Any]:
    container: dict[str, Any] = pod_spec(o)["containers"][0]
    return container


@pytest.mark.parametrize(
    ("spec", "image", "gpu_limit", "split"),
    [
        ({}, "llama:cpu", None, None),
        ({"gpu": {"count": 1}}, "llama:cuda", "1", None),
        ({"gpu": {"count": 2}}, "llama:cuda", "2", "1,1"),
        (
            {
                "gpu": {"count": 2},
                "runtime": {"tensorSplitMode": "Ratios", "tensorSplit": [3, 1]},
            },
            "llama:cuda",
            "2",
            "3,1",
        ),
        ({"gpu": {"count": 2}, "runtime": {"tensorSplitMode": "Memory"}}, "llama:cuda", "2", None),
        ({"gpu": {"count": 1}, "image": "my/llama:b1"}, "my/llama:b1", "1", None),
    ],
)
def test_server_container(
    spec: dict[str, Any], image: str, gpu_limit: str | None, split: str | None
) -> None:
    c = server(owner(**spec))
    assert c["image"] == image
    assert c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu") == gpu_limit
    args = c["args"]
    assert args[:8] == [
        "--model",
        f"/models/{SHA}.gguf",
        "--alias",
        "smollm2:135m",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
    ]
    assert "--metrics" in args
    if split is None:
        assert "--tensor-split" not in args
    else:
        assert args[args.index("--tensor-split") + 1] == split


def test_server_probes_ports_security() -> None:
    c = server(owner())
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    ps = pod_spec(owner())
    assert ps["securityContext"]["runAsNonRoot"] is True
    assert ps["securityContext"]["runAsUser"] != 0
    assert ps["automountServiceAccountToken"] is False
    annotations = deployment(owner(), CONFIG)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8080"


def test_runtime_args_reach_the_server() -> None:
    c = server(owner(runtime={"contextSize": 2048, "parallel": 4, "extraArgs": ["--metrics"]}))
    assert c["args"][c["args"].index("--ctx-size") + 1] == "2048"
    assert c["args"][c["args"].index("--parallel") + 1] == "4"
    assert c["args"].count("--metrics") == 1


def test_init_container_fetches_from_the_presigned_url_of_its_slots() -> None:
    init = pod_spec(owner())["initContainers"][0]
    assert init["image"] == "fetch:1"
    assert init["command"] == [
        "python",
        "-m",
        "inference_common.model_fetch",
        "url",
        "--env-prefix=SLOT0_",
        "--env-prefix=SLOT1_",
        "--sha256",
        SHA,
        "--dest",
        f"/models/{SHA}.gguf",
        "--size",
        "1000",
    ]
    assert init["envFrom"] == [
        {
            "prefix": f"SLOT{i}_",
            "secretRef": {"name": fetch_slot_name(owner(), CONFIG, i), "optional": True},
        }
        for i in (0, 1)
    ]
    volumes = {v["name"]: v for v in pod_spec(owner())["volumes"]}
    assert "emptyDir" in volumes["model"]


@pytest.mark.parametrize(
    ("sha", "init_command"),
    [
        (None, None),
        (SHA, ["verify", "--path", "/models/dir/m.gguf", "--sha256", SHA]),
    ],
)
def test_pvc_source(sha: str | None, init_command: list[str] | None) -> None:
    model: dict[str, Any] = {
        "name": "m",
        "source": {"pvc": {"claimName": "models", "path": "dir/m.gguf"}},
    }
    if sha:
        model["sha256"] = sha
    o = owner(model=model)
    ps = pod_spec(o)
    volumes = {v["name"]: v for v in ps["volumes"]}
    assert volumes["model"]["persistentVolumeClaim"] == {"claimName": "models", "readOnly": True}
    assert server(o)["args"][1] == "/models/dir/m.gguf"
    if init_command is None:
        assert "initContainers" not in ps
    else:
        assert ps["initContainers"][0]["command"][3:] == init_command
    assert [c["kind"] for c in children(o, CONFIG)] == [
        "Service",
        "Middleware",
        "IngressRoute",
        "Deployment",
    ]


@pytest.mark.parametrize(
    ("gpu", "node_selector", "memory_gt", "gpu_toleration"),
    [
        ({}, None, None, False),
        ({"count": 1}, None, None, True),
        (
            {"count": 2, "product": "NVIDIA-GeForce-RTX-4090"},
            {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-4090"},
            None,
            True,
        ),
        ({"count": 1, "minMemoryGiB": 24}, None, "24083", True),
    ],
)
def test_gpu_scheduling(
    gpu: dict[str, Any],
    node_selector: dict[str, str] | None,
    memory_gt: str | None,
    gpu_toleration: bool,
) -> None:
    ps = pod_spec(owner(gpu=gpu))
    assert ps.get("nodeSelector") == node_selector
    if memory_gt is None:
        assert "affinity" not in ps
    else:
        term = ps["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        expr = term["nodeSelectorTerms"][0]["matchExpressions"][0]
        assert expr == {"key": GPU_MEMORY_LABEL, "operator": "Gt", "values": [memory_gt]}
    has_tol = any(t.get("key") == "nvidia.com/gpu" for t in ps.get("tolerations", []))
    assert has_tol is gpu_toleration


@pytest.mark.parametrize(("gib", "fits_4090"), [(8, True), (24, True), (25, False), (48, False)])
def test_min_memory_threshold(gib: int, fits_4090: bool) -> None:
    assert (min_memory_mib(gib) <= 24564) is fits_4090


def test_user_scheduling_fields_merge() -> None:
    ps = pod_spec(
        owner(
            gpu={"count": 1, "product": "A100"},
            nodeSelector={"zone": "a"},
            tolerations=[{"key": "dedicated", "operator": "Equal", "value": "ml"}],
        )
    )
    assert ps["nodeSelector"] == {"zone": "a", "nvidia.com/gpu.product": "A100"}
    assert ps["tolerations"][0] == {"key": "dedicated", "operator": "Equal", "value": "ml"}


@pytest.mark.parametrize(
    ("spec", "surge", "unavailable"),
    [({}, 1, 0), ({"gpu": {"count": 1}}, 0, 1)],
)
def test_rollout_strategy(spec: dict[str, Any], surge: int, unavailable: int) -> None:
    strategy = deployment(owner(**spec), CONFIG)["spec"]["strategy"]["rollingUpdate"]
    assert strategy == {"maxSurge": surge, "maxUnavailable": unavailable}


@pytest.mark.parametrize("replicas", [0, 1, 3])
def test_replicas(replicas: int) -> None:
    assert deployment(owner(replicas=replicas), CONFIG)["spec"]["replicas"] == replicas


def test_resources() -> None:
    c = server(
        owner(resources={"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "8Gi"}})
    )
    assert c["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"memory": "8Gi"},
    }


def test_children_identity() -> None:
    o = owner()
    objs = children(o, CONFIG)
    assert [(c["kind"], c["metadata"]["name"]) for c in objs] == [
        ("Service", "sm"),
        ("Middleware", "sm-strip"),
        ("IngressRoute", "sm"),
        ("Deployment", "sm"),
    ]
    for obj in objs:
        meta = obj["metadata"]
        assert meta["namespace"] == "ns"
        assert meta["labels"][SERVER_UUID_LABEL] == "7f0c"
        assert meta["labels"][MODELSERVE_LABEL] == "sm"
        (ref,) = meta["ownerReferences"]
        assert ref["uid"] == "uid-1"
        assert ref["controller"] is True
        assert ref["kind"] == "ModelServe"
    dep = deployment(o, CONFIG)
    assert dep["spec"]["selector"]["matchLabels"] == {MODELSERVE_LABEL: "sm"}
    assert service(o)["spec"]["selector"] == {MODELSERVE_LABEL: "sm"}
    assert service(o)["spec"]["ports"][0]["name"] == "http"


def test_route_and_middleware() -> None:
    o = owner()
    route = ingress_route(o, CONFIG)
    assert route["apiVersion"] == "traefik.io/v1alpha1"
    assert route["spec"]["entryPoints"] == ["web"]
    (rule,) = route["spec"]["routes"]
    assert rule["match"] == "PathPrefix(`/7f0c/`)"
    assert rule["middlewares"] == [{"name": "sm-strip"}]
    assert rule["services"] == [{"name": "sm", "port": 8080}]
    assert middleware(o)["spec"] == {"stripPrefix": {"prefixes": ["/7f0c"]}}
    assert authz_middleware(o, CONFIG) is None


def test_with_a_gateway_the_route_asks_it_first() -> None:
    o = owner()
    config = dataclasses.replace(CONFIG, authz_url="http://127.0.0.1:8203/")
    (rule,) = ingress_route(o, config)["spec"]["routes"]
    assert rule["middlewares"] == [{"name": "sm-authz"}, {"name": "sm-strip"}]
    authz = authz_middleware(o, config)
    assert authz is not None
    assert authz["metadata"]["name"] == "sm-authz"
    assert authz["spec"] == {
        "forwardAuth": {
            "address": "http://127.0.0.1:8203/authz/servers/7f0c",
            "authRequestHeaders": ["Authorization", "X-Api-Key"],
        }
    }
    kinds = [(c["kind"], c["metadata"]["name"]) for c in children(o, config)]
    assert kinds.index(("Middleware", "sm-authz")) < kinds.index(("IngressRoute", "sm"))


def test_network_policy_admits_only_the_peers_to_the_server_port() -> None:
    o = owner()
    assert network_policy(o, CONFIG) is None
    peers = ({"podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}}},)
    config = dataclasses.replace(CONFIG, network_policy_peers=peers)
    policy = network_policy(o, config)
    assert policy is not None
    assert policy["apiVersion"] == "networking.k8s.io/v1"
    assert policy["metadata"]["name"] == "sm"
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {MODELSERVE_LABEL: "sm"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": list(peers), "ports": [{"protocol": "TCP", "port": 8080}]}],
    }
    kinds = [c["kind"] for c in children(o, config)]
    assert kinds.index("NetworkPolicy") < kinds.index("Deployment")


def test_fetch_slot_holds_the_url_and_no_key() -> None:
    holder = fetch_holder(owner(), CONFIG, 1, FETCH)
    assert holder["metadata"]["name"] == fetch_slot_name(owner(), CONFIG, 1)
    assert holder["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert holder["data"] == {"window": "2026-01-01T15:04:05Z", "expires": "2026-01-02T03:04:05Z"}
    created = {**holder, "metadata": {**holder["metadata"], "uid": "cm-uid"}}
    secret = fetch_secret(created, FETCH)
    assert secret["metadata"]["name"] == holder["metadata"]["name"]
    (ref,) = secret["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["uid"], ref["controller"], ref["blockOwnerDeletion"]) == (
        "ConfigMap",
        "cm-uid",
        True,
        True,
    )
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {"MODEL_URL": FETCH.url, "MODEL_URL_EXPIRES": "2026-01-02T03:04:05Z"}


def test_manifests_are_deterministic() -> None:
    assert children(owner(), CONFIG) == children(owner(), CONFIG)


@pytest.mark.parametrize(
    ("desired", "observed", "expected"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"a": 1}, {}, False),
        ({"a": {"b": [1, 2]}}, {"a": {"b": [1, 2], "c": 0}}, True),
        ({"l": [{"x": 1}]}, {"l": [{"x": 1, "y": 2}]}, True),
        ({"l": [1]}, {"l": [1, 2]}, False),
        ({"f": False}, {"f": 0}, False),
        ({"n": 8080}, {"n": 8080}, True),
        ({"s": "1"}, {"s": 1}, True),
    ],
)
def test_is_subset(desired: Any, observed: Any, expected: bool) -> None:
    assert is_subset(desired, observed) is expected


def test_every_child_matches_itself() -> None:
    for child in children(owner(gpu={"count": 2}), CONFIG):
        assert is_subset(child, child)


def test_every_child_kind_is_in_the_operators_table() -> None:
    holder = fetch_holder(owner(), CONFIG, 0, FETCH)
    slot = [holder, fetch_secret({**holder, "metadata": {**holder["metadata"], "uid": "u"}}, FETCH)]
    full = dataclasses.replace(
        CONFIG, authz_url="http://gw", network_policy_peers=({"podSelector": {}},)
    )
    made = {(c["apiVersion"], c["kind"]) for c in [*children(owner(), full), *slot]}
    assert made == {(k.api_version, k.kind) for k in CHILD_KINDS}


@pytest.mark.parametrize(
    ("other", "config"),
    [
        (Owner("sm", "ns", "uid-2", "7f0c", owner().spec), CONFIG),  # another ModelServe
        (owner(), ManifestConfig("llama:cpu", "llama:cuda", "fetch:1", signer_digest="d2")),
        (
            owner(model={**MODEL, "source": {"s3": {"bucket": "inference-models", "key": "n"}}}),
            CONFIG,
        ),
    ],
)
def test_fetch_slot_names_change_with_owner_key_and_object_only(
    other: Owner, config: ManifestConfig
) -> None:
    assert fetch_slot_name(owner(), CONFIG, 0) == fetch_slot_name(owner(replicas=3), CONFIG, 0)
    assert fetch_slot_name(owner(), CONFIG, 0) != fetch_slot_name(owner(), CONFIG, 1)
    assert fetch_slot_name(other, config, 0) != fetch_slot_name(owner(), CONFIG, 0)
    assert fetch_slot_name(owner(), CONFIG, 0).startswith("sm-model-fetch-")
