"""The real operator against the local stack's apiserver, scheduler, controller-manager and kwok
GPU nodes: one namespace and one operator process per test, waiting on conditions."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from inference_common.modelserve import GROUP, MODELSERVE_LABEL, PLURAL, SERVER_UUID_LABEL, VERSION
from inference_localstack.node.plan import plan_container, referenced_objects, resolve_env
from inference_localstack.object_store_users import ScopedUser
from inference_testkit.waiting import wait_for

from .conftest import SHA, Cluster, OperatorProcess, ms_body

pytestmark = pytest.mark.timeout(180)

GPU_NODES = {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-4090"}


def _children(cluster: Cluster, name: str) -> dict[str, Any] | None:
    found = {
        "deployment": cluster.deployment(name),
        "service": cluster.service(name),
        "route": cluster.traefik("ingressroutes", name),
        "middleware": cluster.traefik("middlewares", f"{name}-strip"),
    }
    return found if all(v is not None for v in found.values()) else None


def test_create_makes_children_and_becomes_ready(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    created = cluster.create(ms_body("sm", gpu={"count": 1, "product": "NVIDIA-GeForce-RTX-4090"}))
    uid = created["metadata"]["uid"]
    kids = wait_for(lambda: _children(cluster, "sm"), timeout=30, what="children")

    dep: client.V1Deployment = kids["deployment"]
    (ref,) = dep.metadata.owner_references
    assert (ref.kind, ref.uid, ref.controller) == ("ModelServe", uid, True)
    assert dep.metadata.labels[SERVER_UUID_LABEL] == uid
    container = dep.spec.template.spec.containers[0]
    assert container.resources.limits["nvidia.com/gpu"] == "1"
    assert container.image.endswith("server-cuda")
    assert dep.spec.template.spec.init_containers[0].name == "model-fetch"
    assert kids["service"].spec.ports[0].name == "http"
    assert kids["route"]["spec"]["routes"][0]["match"] == f"PathPrefix(`/{uid}/`)"
    assert kids["middleware"]["spec"]["stripPrefix"]["prefixes"] == [f"/{uid}"]

    status = cluster.wait_phase("sm", "Ready")
    assert status["readyReplicas"] == 1
    assert status["endpoint"] == f"/{uid}/"
    assert status["observedGeneration"] == created["metadata"]["generation"]
    ready = cluster.condition("sm", "Ready")
    assert ready is not None
    assert ready["status"] == "True"
    pods = cluster.core.list_namespaced_pod(cluster.ns, label_selector=f"{MODELSERVE_LABEL}=sm")
    assert [p.spec.node_name.startswith("kwok-") for p in pods.items] == [True]


def test_two_gpus_fit_five_do_not(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.create(ms_body("two", gpu={"count": 2}, nodeSelector=GPU_NODES))
    cluster.create(ms_body("five", gpu={"count": 5}, nodeSelector=GPU_NODES))
    cluster.wait_phase("two", "Ready")

    def unschedulable() -> dict[str, Any] | None:
        cond = cluster.condition("five", "Scheduled")
        return cond if cond and cond.get("reason") == "Unschedulable" else None

    cond = wait_for(unschedulable, timeout=60, what="five: Unschedulable")
    assert cond["status"] == "False"
    assert "Insufficient nvidia.com/gpu" in cond["message"]
    status = cluster.status("five")
    assert status["phase"] == "Pending"
    assert status["readyReplicas"] == 0
    ready = cluster.condition("five", "Ready")
    assert ready is not None
    assert ready["reason"] == "Unschedulable"
    assert "free nvidia.com/gpu per node:" in ready["message"]
    assert "(5 requested per replica)" in ready["message"]


def test_spec_change_rolls_out(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.create(ms_body("roll", runtime={"contextSize": 1024}))
    cluster.wait_phase("roll", "Ready")
    updated = cluster.patch_spec("roll", {"runtime": {"contextSize": 4096, "parallel": 2}})
    generation = updated["metadata"]["generation"]

    def rolled_out() -> bool:
        dep = cluster.deployment("roll")
        assert dep is not None
        args = dep.spec.template.spec.containers[0].args
        s = dep.status
        return (
            args[args.index("--ctx-size") + 1] == "4096"
            and "--parallel" in args
            and s.observed_generation == dep.metadata.generation
            and s.updated_replicas == 1
            and s.ready_replicas == 1
            and (s.replicas or 0) == 1
        )

    wait_for(rolled_out, timeout=60, what="Deployment rolled out")

    def status_current() -> bool:
        st = cluster.status("roll")
        done = cluster.condition("roll", "RolledOut")
        return bool(
            st.get("observedGeneration") == generation
            and st.get("phase") == "Ready"
            and done
            and done["status"] == "True"
        )

    wait_for(status_current, timeout=60, what="status for the new generation")


def test_deleted_or_edited_children_are_restored(
    cluster: Cluster, operator: OperatorProcess, kube_api: client.ApiClient
) -> None:
    cluster.create(ms_body("heal"))
    kids = wait_for(lambda: _children(cluster, "heal"), timeout=30, what="children")
    old_service_uid = kids["service"].metadata.uid

    cluster.core.delete_namespaced_service("heal", cluster.ns)
    wait_for(
        lambda: (s := cluster.service("heal")) is not None and s.metadata.uid != old_service_uid,
        timeout=30,
        what="Service recreated",
    )

    custom = client.CustomObjectsApi(kube_api)
    custom.delete_namespaced_custom_object(
        "traefik.io", "v1alpha1", cluster.ns, "ingressroutes", "heal"
    )
    wait_for(
        lambda: cluster.traefik("ingressroutes", "heal") is not None,
        timeout=30,
        what="IngressRoute recreated",
    )

    cluster.apps.patch_namespaced_deployment(
        "heal",
        cluster.ns,
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": "llama-server", "image": "evil"}]}}
            }
        },
    )

    def image_restored() -> bool:
        dep = cluster.deployment("heal")
        return dep is not None and dep.spec.template.spec.containers[0].image != "evil"

    wait_for(image_restored, timeout=30, what="Deployment edit reverted")


def test_replicas_zero_stops_and_keeps_identity(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    created = cluster.create(ms_body("stop"))
    cluster.wait_phase("stop", "Ready")
    # through the scale subresource, as `kubectl scale ms stop --replicas 0` does
    cluster.custom.patch_namespaced_custom_object_scale(
        GROUP, VERSION, cluster.ns, PLURAL, "stop", {"spec": {"replicas": 0}}
    )
    status = cluster.wait_phase("stop", "Stopped")
    assert status["endpoint"] == f"/{created['metadata']['uid']}/"

    def no_pods() -> bool:
        dep = cluster.deployment("stop")
        pods = cluster.core.list_namespaced_pod(
            cluster.ns, label_selector=f"{MODELSERVE_LABEL}=stop"
        ).items
        return dep is not None and dep.spec.replicas == 0 and not pods

    wait_for(no_pods, timeout=60, what="scaled to zero")
    assert cluster.status("stop")["readyReplicas"] == 0
    assert cluster.service("stop") is not None  # the identity and route stay

    cluster.patch_spec("stop", {"replicas": 1})
    cluster.wait_phase("stop", "Ready")


def test_delete_leaves_no_orphans(
    cluster: Cluster, operator: OperatorProcess, kube_api: client.ApiClient
) -> None:
    cluster.create(ms_body("gone"))
    cluster.wait_phase("gone", "Ready")
    cluster.delete("gone")
    selector = f"{MODELSERVE_LABEL}=gone"
    custom = client.CustomObjectsApi(kube_api)

    def leftovers() -> list[str]:
        left = [
            d.metadata.name
            for d in cluster.apps.list_namespaced_deployment(
                cluster.ns, label_selector=selector
            ).items
        ]
        left += [
            s.metadata.name
            for s in cluster.core.list_namespaced_service(cluster.ns, label_selector=selector).items
        ]
        left += [
            s.metadata.name
            for s in cluster.core.list_namespaced_secret(cluster.ns, label_selector=selector).items
        ]
        left += [
            p.metadata.name
            for p in cluster.core.list_namespaced_pod(cluster.ns, label_selector=selector).items
        ]
        left += [
            r.metadata.name
            for r in cluster.apps.list_namespaced_replica_set(
                cluster.ns, label_selector=selector
            ).items
        ]
        for plural in ("ingressroutes", "middlewares"):
            items = custom.list_namespaced_custom_object(
                "traefik.io", "v1alpha1", cluster.ns, plural, label_selector=selector
            )["items"]
            left += [i["metadata"]["name"] for i in items]
        return left

    wait_for(lambda: not leftovers(), timeout=60, what="garbage collection")
    assert leftovers() == []


INVALID = [
    ({"replicas": -1}, "spec.replicas"),
    ({"replicas": 1000}, "spec.replicas"),
    ({"gpu": {"count": 99}}, "spec.gpu.count"),
    ({"gpu": {"count": 1, "product": "A", "minMemoryGiB": 8}}, "spec.gpu"),
    ({"runtime": {"tensorSplitMode": "Sideways"}}, "spec.runtime.tensorSplitMode"),
    ({"runtime": {"extraArgs": ["--host", "h"]}}, "spec.runtime"),
    ({"runtime": {"kvCacheType": "q9_9"}}, "spec.runtime.kvCacheType"),
    ({"model": {"name": "m", "source": {}}}, "spec.model.source"),
    (
        {"model": {"name": "m", "source": {"s3": {"bucket": "inference-models", "key": "k"}}}},
        "spec.model",
    ),
    (
        {
            "model": {
                "name": "m",
                "source": {"s3": {"bucket": "inference-models", "key": "k"}},
                "sha256": "nothex",
            }
        },
        "spec.model.sha256",
    ),
    ({"gpu": {"count": 2}, "runtime": {"tensorSplitMode": "Ratios", "tensorSplit": [1]}}, "spec"),
    ({"resources": {"limits": {"memory": "lots"}}}, "spec.resources.limits.memory"),
]


@pytest.mark.parametrize(("spec", "field"), INVALID)
def test_invalid_specs_are_rejected_by_the_schema(
    cluster: Cluster, crd: dict[str, Any], spec: dict[str, Any], field: str
) -> None:
    with pytest.raises(ApiException) as info:
        cluster.create(ms_body("bad", **spec))
    assert info.value.status == 422
    assert field in (info.value.body or ""), info.value.body


@pytest.mark.parametrize("name", ["9lives", "a" * 64, "dotted.name"])
def test_names_that_cannot_name_a_service_are_rejected(
    cluster: Cluster, crd: dict[str, Any], name: str
) -> None:
    with pytest.raises(ApiException) as info:
        cluster.create(ms_body(name))
    assert info.value.status == 422
    assert "metadata.name" in (info.value.body or "")


def test_missing_model_is_rejected(cluster: Cluster, crd: dict[str, Any]) -> None:
    body = ms_body("bad")
    del body["spec"]["model"]
    with pytest.raises(ApiException) as info:
        cluster.create(body)
    assert info.value.status == 422
    assert "spec.model" in (info.value.body or "")


def test_kill9_during_creation_then_restart_converges(
    cluster: Cluster, operator_factory: Callable[[], OperatorProcess]
) -> None:
    count = 20
    first = operator_factory().start()
    names = [f"k{i:02d}" for i in range(count)]
    created = threading.Event()

    def create_all() -> None:
        for name in names:
            cluster.create(ms_body(name, resources={"requests": {"cpu": "10m"}}))
        created.set()

    creator = threading.Thread(target=create_all)
    creator.start()
    # kill the operator in the middle of its work: once it has made some children
    wait_for(
        lambda: cluster.apps.list_namespaced_deployment(cluster.ns).items,
        timeout=60,
        what="first Deployment",
    )
    first.kill9()
    creator.join(timeout=60)
    assert created.is_set()

    operator_factory().start()

    def converged() -> bool:
        return all(cluster.status(n).get("phase") == "Ready" for n in names)

    wait_for(converged, timeout=120, interval=0.5, what=f"{count} ModelServes Ready")
    deployments = cluster.apps.list_namespaced_deployment(cluster.ns).items
    services = cluster.core.list_namespaced_service(cluster.ns).items
    pods = [
        p
        for p in cluster.core.list_namespaced_pod(cluster.ns).items
        if not p.metadata.deletion_timestamp
    ]
    assert sorted(d.metadata.name for d in deployments) == names
    assert sorted(s.metadata.name for s in services) == names
    assert len(pods) == count
    for name in names:
        assert (
            len(
                cluster.apps.list_namespaced_replica_set(
                    cluster.ns, label_selector=f"{MODELSERVE_LABEL}={name}"
                ).items
            )
            == 1
        )


def slot_urls(cluster: Cluster, init: client.V1Container) -> dict[str, dict[str, str]]:
    """The fetch slots' Secrets that exist now, by env prefix, decoded."""
    found = {}
    for source in init.env_from:
        assert source.secret_ref.optional is True
        try:
            secret = cluster.core.read_namespaced_secret(source.secret_ref.name, cluster.ns)
        except ApiException as exc:
            if exc.status == 404:
                continue
            raise
        data = secret.data or {}
        found[source.prefix] = {k: base64.b64decode(v).decode() for k, v in data.items()}
    return found


def first_bytes(url: str) -> bytes:
    ranged = urllib.request.Request(url, headers={"Range": "bytes=0-3"})  # noqa: S310 - MinIO
    with urllib.request.urlopen(ranged, timeout=10) as response:  # noqa: S310
        data: bytes = response.read()
        return data


def test_fetch_secret_holds_a_url_for_its_one_object_and_no_key(
    cluster: Cluster,
    operator_factory: Callable[..., OperatorProcess],
    stack_env: dict[str, str],
    model_reader: ScopedUser,
) -> None:
    """Issue 11, item 4: the init container gets a presigned URL of its model, never the
    object store's root user and password (nor any key); an operator restart signs the same
    URL, so it changes no Secret and rolls no pod."""
    operator = operator_factory().start()
    cluster.create(ms_body("sm"))
    dep = wait_for(lambda: cluster.deployment("sm"), timeout=30, what="deployment")
    (init,) = dep.spec.template.spec.init_containers
    slots = wait_for(lambda: slot_urls(cluster, init), timeout=30, what="a fetch slot")
    (values,) = slots.values()  # one window so far: one slot filled

    assert set(values) == {"MODEL_URL", "MODEL_URL_EXPIRES"}
    for value in values.values():
        assert stack_env["S3_ACCESS_KEY"] not in value
        assert stack_env["S3_SECRET_KEY"] not in value
        assert model_reader.secret_key not in value
    url = values["MODEL_URL"]
    assert not any(url in arg for arg in [*init.command, *(init.args or [])])
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Credential"][0].startswith(f"{model_reader.access_key}/")
    assert urlsplit(url).path == "/inference-models/smollm2-135m-instruct-q4_1.gguf"
    assert first_bytes(url) == b"GGUF"

    operator.stop()
    operator_factory().start()
    cluster.patch_spec("sm", {"replicas": 2})  # reconciled by the restarted operator

    def scaled() -> client.V1Deployment | None:
        found = cluster.deployment("sm")
        return found if found is not None and found.spec.replicas == 2 else None

    again = wait_for(scaled, timeout=30, what="the deployment scaled to 2")
    assert again.spec.template == dep.spec.template
    assert slot_urls(cluster, init) == slots
    replica_sets = cluster.apps.list_namespaced_replica_set(
        cluster.ns, label_selector=f"{MODELSERVE_LABEL}=sm"
    ).items
    assert len(replica_sets) == 1  # one pod template: nothing rolled


def test_model_urls_are_renewed_without_a_rollout(
    cluster: Cluster, operator_factory: Callable[..., OperatorProcess]
) -> None:
    """URLs live 20 s here (a new one every 10 s): the two fetch slots take turns, an expired
    slot is replaced (its Secret goes with its ConfigMap, the operator never deletes a
    Secret), the pod template never changes, and a valid URL is there all along."""
    operator_factory(MODEL_URL_TTL_SECONDS="20").start()
    cluster.create(ms_body("sm"))
    dep = wait_for(lambda: cluster.deployment("sm"), timeout=30, what="deployment")
    (init,) = dep.spec.template.spec.init_containers
    slot_names = {source.prefix: source.secret_ref.name for source in init.env_from}
    first = wait_for(lambda: slot_urls(cluster, init), timeout=30, what="a fetch slot")
    (filled,) = first
    holder_uid = cluster.core.read_namespaced_config_map(
        slot_names[filled], cluster.ns
    ).metadata.uid
    seen_urls = {v["MODEL_URL"] for v in first.values()}

    def replaced() -> bool:
        slots = slot_urls(cluster, init)
        seen_urls.update(v["MODEL_URL"] for v in slots.values())
        try:
            holder = cluster.core.read_namespaced_config_map(slot_names[filled], cluster.ns)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return holder.metadata.uid != holder_uid and filled in slots

    wait_for(replaced, timeout=60, interval=0.5, what="the first slot renewed")
    assert len(seen_urls) >= 3  # windows k, k+1, k+2
    now = slot_urls(cluster, init)
    newest = max(now.values(), key=lambda v: v["MODEL_URL_EXPIRES"])
    assert first_bytes(newest["MODEL_URL"]) == b"GGUF"
    after = cluster.deployment("sm")
    assert after is not None
    assert after.metadata.generation == dep.metadata.generation
    assert after.spec.template == dep.spec.template
    replica_sets = cluster.apps.list_namespaced_replica_set(
        cluster.ns, label_selector=f"{MODELSERVE_LABEL}=sm"
    ).items
    assert len(replica_sets) == 1


def test_the_init_container_fetches_its_model_as_the_local_kubelet_runs_it(
    cluster: Cluster, operator: OperatorProcess, tmp_path: Path
) -> None:
    """The pod spec this operator writes, planned by the local kubelet's own code (env from
    the fetch slots' Secrets, paths under the model volume), run with this checkout's
    model_fetch: the real model comes from MinIO through its presigned URL and is verified.
    (The stack's kubelet runs the stack's checkout, so the whole-pod test of this path is
    test_local_node_e2e once the stack runs this code.)"""
    cluster.create(ms_body("sm"))
    dep = wait_for(lambda: cluster.deployment("sm"), timeout=30, what="deployment")
    init = cluster.core.api_client.sanitize_for_serialization(
        dep.spec.template.spec.init_containers[0]
    )
    secret_names, _ = referenced_objects([init])
    wait_for(lambda: slot_urls(cluster, dep.spec.template.spec.init_containers[0]), timeout=30)
    secrets = {}
    for name in secret_names:
        try:
            data = cluster.core.read_namespaced_secret(name, cluster.ns).data or {}
        except ApiException as exc:
            if exc.status == 404:
                continue  # an empty slot: the kubelet skips it as optional
            raise
        secrets[name] = {k: base64.b64decode(v).decode() for k, v in data.items()}
    env = resolve_env(init, secrets, {}, {})
    plan = plan_container(init, {"model": tmp_path}, env, sys.executable)
    assert not plan.in_pod_network
    result = subprocess.run(
        plan.argv,
        env={"PATH": os.environ.get("PATH", ""), **plan.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "model fetched" in result.stderr
    assert (tmp_path / f"{SHA}.gguf").stat().st_size > 90 << 20
    assert (tmp_path / f"{SHA}.gguf.verified").exists()
