"""How a container of a pod spec runs on this machine (pure; table-tested).

The local kubelet interprets the pod spec the operator writes for a real cluster, unchanged.
It can run two kinds of container:

- the official llama.cpp server image (`ghcr.io/ggml-org/llama.cpp:server*`, CPU or CUDA):
  its args go to `inference_localstack.llama_server` (llama.cpp's own C++ server through
  xllamacpp), inside the pod's network namespace;
- the platform's own Python entry points (`python -m <allowed module> …`), e.g. the model
  fetch of the init container, in the host's network namespace so they reach MinIO on
  loopback.

Anything else is refused with a message that lands in the pod's status. Paths under a
container's volume mounts are translated to the volume's folder on this machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LLAMA_IMAGE_REPOSITORIES = ("ghcr.io/ggml-org/llama.cpp",)
PYTHON_MODULES = frozenset({"inference_common.model_fetch"})
LLAMA_SERVER_MODULE = "inference_localstack.llama_server"


class UnsupportedContainerError(ValueError):
    """This container cannot run on the local node; the message says why."""


@dataclass(frozen=True)
class ProcessPlan:
    container: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    in_pod_network: bool


def image_repository(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[0] if ":" in last else name


def is_llama_server_image(image: str) -> bool:
    return image_repository(image) in LLAMA_IMAGE_REPOSITORIES


def mount_table(
    container: Mapping[str, Any], volume_dirs: Mapping[str, Path]
) -> list[tuple[str, Path]]:
    """(mountPath, local folder) pairs, longest mount path first."""
    table = []
    for mount in container.get("volumeMounts") or []:
        name = mount["name"]
        if name not in volume_dirs:
            raise UnsupportedContainerError(f"volume {name!r} is not available on the local node")
        local = volume_dirs[name] / mount.get("subPath", "")
        table.append((mount["mountPath"].rstrip("/") or "/", local))
    return sorted(table, key=lambda entry: len(entry[0]), reverse=True)


def translate_path(value: str, mounts: Sequence[tuple[str, Path]]) -> str:
    for mount_path, local in mounts:
        if value == mount_path:
            return str(local)
        if value.startswith(mount_path + "/"):
            return str(local / value[len(mount_path) + 1 :])
    return value


def plan_container(
    container: Mapping[str, Any],
    volume_dirs: Mapping[str, Path],
    env: Mapping[str, str],
    python: str,
) -> ProcessPlan:
    name = container["name"]
    image = container.get("image", "")
    command = list(container.get("command") or [])
    args = list(container.get("args") or [])
    mounts = mount_table(container, volume_dirs)

    def translated(values: Sequence[str]) -> list[str]:
        return [translate_path(v, mounts) for v in values]

    local_env = {k: translate_path(v, mounts) for k, v in env.items()}
    if is_llama_server_image(image):
        if command and not command[-1].endswith("llama-server"):
            raise UnsupportedContainerError(
                f"container {name}: the llama.cpp image runs only llama-server here, "
                f"not {command[0]!r}"
            )
        argv = (python, "-m", LLAMA_SERVER_MODULE, *translated(args))
        return ProcessPlan(name, argv, local_env, in_pod_network=True)
    if len(command) >= 3 and command[0] in ("python", "python3") and command[1] == "-m":
        module = command[2]
        if module not in PYTHON_MODULES:
            raise UnsupportedContainerError(
                f"container {name}: module {module!r} is not allowed here"
            )
        argv = (python, "-m", module, *translated(command[3:] + args))
        return ProcessPlan(name, argv, local_env, in_pod_network=False)
    raise UnsupportedContainerError(
        f"container {name}: image {image!r} cannot run on the local node (it runs the llama.cpp "
        "server image and the platform's own Python entry points)"
    )


def resolve_env(
    container: Mapping[str, Any],
    secrets: Mapping[str, Mapping[str, str]],
    config_maps: Mapping[str, Mapping[str, str]],
    fields: Mapping[str, str],
) -> dict[str, str]:
    """The container's environment from env/envFrom, with secret, config-map and field refs
    resolved from the given (already fetched) objects. Missing required refs raise."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "secretRef" in source:
            env.update(
                {prefix + k: v for k, v in _lookup(secrets, source["secretRef"], "secret").items()}
            )
        elif "configMapRef" in source:
            env.update(
                {
                    prefix + k: v
                    for k, v in _lookup(config_maps, source["configMapRef"], "config map").items()
                }
            )
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item.get("valueFrom") or {}
        value: str | None = None
        if "secretKeyRef" in ref:
            value = _lookup(secrets, ref["secretKeyRef"], "secret").get(ref["secretKeyRef"]["key"])
        elif "configMapKeyRef" in ref:
            value = _lookup(config_maps, ref["configMapKeyRef"], "config map").get(
                ref["configMapKeyRef"]["key"]
            )
        elif "fieldRef" in ref:
            value = fields.get(ref["fieldRef"]["fieldPath"])
        if value is None:
            raise UnsupportedContainerError(f"env {item['name']}: its source cannot be resolved")
        env[item["name"]] = value
    return env


def _lookup(
    objects: Mapping[str, Mapping[str, str]], ref: Mapping[str, Any], kind: str
) -> Mapping[str, str]:
    name = ref["name"]
    if name in objects:
        return objects[name]
    if ref.get("optional"):
        return {}
    raise UnsupportedContainerError(f"{kind} {name!r} not found")


def referenced_objects(containers: Sequence[Mapping[str, Any]]) -> tuple[set[str], set[str]]:
    """Names of the secrets and config maps the containers' environment refers to."""
    secrets: set[str] = set()
    config_maps: set[str] = set()
    for container in containers:
        for source in container.get("envFrom") or []:
            if "secretRef" in source:
                secrets.add(source["secretRef"]["name"])
            if "configMapRef" in source:
                config_maps.add(source["configMapRef"]["name"])
        for item in container.get("env") or []:
            ref = item.get("valueFrom") or {}
            if "secretKeyRef" in ref:
                secrets.add(ref["secretKeyRef"]["name"])
            if "configMapKeyRef" in ref:
                config_maps.add(ref["configMapKeyRef"]["name"])
    return secrets, config_maps


def gpu_count(container: Mapping[str, Any]) -> int:
    limits = (container.get("resources") or {}).get("limits") or {}
    return int(limits.get("nvidia.com/gpu", 0))
