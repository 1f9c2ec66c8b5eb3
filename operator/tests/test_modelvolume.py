"""Table tests of the model volume: the operator's cache setting by the model's source."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from inference_common.modelserve import ModelServeSpec
from modelserve_operator.childmeta import ManifestConfig, Owner
from modelserve_operator.manifests import deployment
from modelserve_operator.modelvolume import ModelCache, model_volume
from modelserve_operator.settings import OperatorSettings

SHA = "c" * 64
S3_MODEL: dict[str, Any] = {
    "name": "m",
    "source": {"s3": {"bucket": "inference-models", "key": "m.gguf"}},
    "sha256": SHA,
}
PVC_MODEL: dict[str, Any] = {
    "name": "m",
    "source": {"pvc": {"claimName": "user-models", "path": "dir/m.gguf"}},
}
HOST = ModelCache(type="hostPath", host_path="/var/cache/models")
SHARED = ModelCache(type="pvc", claim="model-cache")


def spec(model: dict[str, Any]) -> ModelServeSpec:
    return ModelServeSpec.model_validate({"model": model})


@pytest.mark.parametrize(
    ("model", "cache", "volume"),
    [
        (S3_MODEL, ModelCache(), {"name": "model", "emptyDir": {}}),
        (
            {**S3_MODEL, "sizeBytes": 1000},
            ModelCache(),
            {"name": "model", "emptyDir": {"sizeLimit": str(1100 + (64 << 20))}},
        ),
        (
            {**S3_MODEL, "sizeBytes": 1000},
            HOST,
            {"name": "model", "hostPath": {"path": "/var/cache/models", "type": "Directory"}},
        ),
        (
            S3_MODEL,
            SHARED,
            {"name": "model", "persistentVolumeClaim": {"claimName": "model-cache"}},
        ),
        # the user's own claim wins over any cache
        *(
            (
                PVC_MODEL,
                cache,
                {
                    "name": "model",
                    "persistentVolumeClaim": {"claimName": "user-models", "readOnly": True},
                },
            )
            for cache in (ModelCache(), HOST, SHARED)
        ),
    ],
)
def test_model_volume(model: dict[str, Any], cache: ModelCache, volume: dict[str, Any]) -> None:
    assert model_volume(spec(model), cache) == volume


@pytest.mark.parametrize("cache", [ModelCache(), HOST, SHARED])
def test_the_pod_reads_the_content_addressed_file_from_the_cache(cache: ModelCache) -> None:
    owner = Owner(name="sm", namespace="ns", uid="u", server_uuid="7f0c", spec=spec(S3_MODEL))
    config = ManifestConfig("llama:cpu", "llama:cuda", "fetch:1", model_cache=cache)
    pod = deployment(owner, config)["spec"]["template"]["spec"]
    assert pod["volumes"][0] == model_volume(owner.spec, cache)
    fetch = pod["initContainers"][0]
    assert fetch["command"][fetch["command"].index("--dest") + 1] == f"/models/{SHA}.gguf"
    assert fetch["volumeMounts"] == [{"name": "model", "mountPath": "/models"}]
    server_mounts = pod["containers"][0]["volumeMounts"]
    assert {"name": "model", "mountPath": "/models", "readOnly": True} in server_mounts


@pytest.mark.parametrize(
    ("env", "cache"),
    [
        ({}, ModelCache()),
        ({"MODEL_CACHE_TYPE": "none"}, ModelCache()),
        (
            {"MODEL_CACHE_TYPE": "hostPath", "MODEL_CACHE_HOST_PATH": "/data/models"},
            ModelCache(type="hostPath", host_path="/data/models"),
        ),
        (
            {"MODEL_CACHE_TYPE": "pvc", "MODEL_CACHE_CLAIM": "shared"},
            ModelCache(type="pvc", claim="shared"),
        ),
    ],
)
def test_settings(env: dict[str, str], cache: ModelCache, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert OperatorSettings(dev_mode=True).model_cache == cache


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MODEL_CACHE_TYPE": "pvc"}, "MODEL_CACHE_CLAIM is required"),
        (
            {"MODEL_CACHE_TYPE": "hostPath", "MODEL_CACHE_HOST_PATH": "models"},
            "MODEL_CACHE_HOST_PATH must be absolute",
        ),
        ({"MODEL_CACHE_TYPE": "emptydir"}, "model_cache_type"),
    ],
)
def test_settings_refuse(
    env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=message):
        OperatorSettings(dev_mode=True)
