"""One table of invalid ModelServe specs, refused alike by the pydantic models and by the real
apiserver through the generated CRD (OpenAPI bounds, patterns and CEL rules).

Each row: the spec fields that break a rule, the field the refusal names (below `spec`), and a
fragment both refusals' messages contain. The apiserver side creates with `dryRun=All`, so
nothing is stored and no operator sees the objects.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from inference_common.modelserve import GROUP, PLURAL, VERSION, ModelServeSpec, modelserve_object
from inference_common.modelserve_base import validation_message

SHA = "a" * 64
S3 = {"s3": {"bucket": "inference-models", "key": "k"}}


@dataclass(frozen=True)
class Invalid:
    spec: dict[str, Any]
    field: str
    message: str


def spec_with(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": {"name": "smollm2:135m", "source": S3, "sha256": SHA},
    }
    return {**base, **overrides}


def model(**fields: Any) -> dict[str, Any]:
    return {"model": {"name": "m", **fields}}


INVALID_SPECS: dict[str, Invalid] = {
    "negative replicas": Invalid(spec_with(replicas=-1), "replicas", "greater than or equal to 0"),
    "too many replicas": Invalid(spec_with(replicas=65), "replicas", "less than or equal to 64"),
    "too many gpus": Invalid(spec_with(gpu={"count": 17}), "gpu.count", "less than or equal to 16"),
    "product and memory": Invalid(
        spec_with(gpu={"count": 1, "product": "A", "minMemoryGiB": 8}),
        "gpu",
        "set at most one of gpu.product or gpu.minMemoryGiB",
    ),
    "product without gpus": Invalid(spec_with(gpu={"product": "A"}), "gpu", "need gpu.count >= 1"),
    "bad product": Invalid(
        spec_with(gpu={"count": 1, "product": "RTX 4090"}), "gpu.product", "should match"
    ),
    "ratios without split": Invalid(
        spec_with(gpu={"count": 2}, runtime={"tensorSplitMode": "Ratios"}),
        "runtime",
        "required when tensorSplitMode is Ratios",
    ),
    "split without ratios mode": Invalid(
        spec_with(runtime={"tensorSplit": [1, 1]}),
        "runtime",
        "tensorSplit is only allowed when tensorSplitMode is Ratios",
    ),
    "split of the wrong length": Invalid(
        spec_with(gpu={"count": 2}, runtime={"tensorSplitMode": "Ratios", "tensorSplit": [1]}),
        "",
        "runtime.tensorSplit needs one ratio per GPU (gpu.count)",
    ),
    "quantized kv cache without flash attention": Invalid(
        spec_with(runtime={"kvCacheType": "q8_0", "flashAttention": "off"}),
        "runtime",
        "a quantized kvCacheType needs flashAttention on or auto",
    ),
    "flag off the allow-list": Invalid(
        spec_with(runtime={"extraArgs": ["--host", "x"]}),
        "runtime",
        "not on the llama.cpp allow-list",
    ),
    "extra arg with a space": Invalid(
        spec_with(runtime={"extraArgs": ["--temp", "a b"]}), "runtime.extraArgs", "should match"
    ),
    "huge context": Invalid(
        spec_with(runtime={"contextSize": 4_194_305}),
        "runtime.contextSize",
        "less than or equal to 4194304",
    ),
    "too many slots": Invalid(
        spec_with(runtime={"parallel": 257}), "runtime.parallel", "less than or equal to 256"
    ),
    "bad image": Invalid(spec_with(image="bad image"), "image", "should match"),
    "bad memory quantity": Invalid(
        spec_with(resources={"limits": {"memory": "lots"}}),
        "resources.limits.memory",
        "should match",
    ),
    "model name with a space": Invalid(
        {"model": {"name": "smol lm", "source": S3, "sha256": SHA}}, "model.name", "should match"
    ),
    "model name too long": Invalid(
        {"model": {"name": "m" * 254, "source": S3, "sha256": SHA}}, "model.name", "253"
    ),
    "no source": Invalid(
        model(source={}, sha256=SHA), "model.source", "exactly one of source.s3 or source.pvc"
    ),
    "two sources": Invalid(
        model(source={**S3, "pvc": {"claimName": "c", "path": "p"}}, sha256=SHA),
        "model.source",
        "exactly one of source.s3 or source.pvc",
    ),
    "s3 without checksum": Invalid(
        model(source=S3), "model", "sha256 is required when source.s3 is set"
    ),
    "bad checksum": Invalid(model(source=S3, sha256="XYZ"), "model.sha256", "should match"),
    "bad bucket": Invalid(
        model(source={"s3": {"bucket": "B!", "key": "k"}}, sha256=SHA),
        "model.source.s3.bucket",
        "should match",
    ),
    "parent dir on the claim": Invalid(
        model(source={"pvc": {"claimName": "c", "path": "a/../x"}}),
        "model.source.pvc",
        "path must not contain '..'",
    ),
    "absolute path on the claim": Invalid(
        model(source={"pvc": {"claimName": "c", "path": "/abs"}}),
        "model.source.pvc.path",
        "should match",
    ),
}

PYDANTIC_ONLY: dict[str, Invalid] = {
    # The CRD checks which flags extraArgs holds and each token's shape; pydantic also checks
    # each flag's value and names the flag.
    "flag without its value": Invalid(
        spec_with(runtime={"extraArgs": ["--temp"]}), "runtime.extraArgs", "expects a value"
    ),
    "flag value out of range": Invalid(
        spec_with(runtime={"extraArgs": ["--temp", "11"]}),
        "runtime.extraArgs",
        "expects a number in [0.0, 10.0]",
    ),
    "the refused flag is named": Invalid(
        spec_with(runtime={"extraArgs": ["--host", "x"]}),
        "runtime.extraArgs",
        "--host: not on the llama.cpp allow-list",
    ),
    # The apiserver prunes unknown fields instead of refusing them.
    "unknown field": Invalid(
        spec_with(runtime={"contextSize": 1, "unknown": 1}), "runtime.unknown", "Extra inputs"
    ),
}


def _path(field: str) -> str:
    return f"spec.{field}" if field else "spec"


def assert_refused(errors: Iterable[tuple[str, str]], case: Invalid) -> None:
    """Some error names the case's field (or a field inside it) and carries its message."""
    errors = list(errors)
    want = _path(case.field)
    assert any(
        (path == want or path.startswith((want + ".", want + "["))) and case.message in message
        for path, message in errors
    ), f"no error at {want} with {case.message!r} in {errors}"


def pydantic_errors(spec: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        ModelServeSpec.model_validate(spec)
    exc = caught.value
    assert validation_message(exc, root="spec").startswith("spec")
    return [(".".join(["spec", *(str(p) for p in e["loc"])]), str(e["msg"])) for e in exc.errors()]


@pytest.mark.parametrize("case", INVALID_SPECS.values(), ids=INVALID_SPECS.keys())
def test_pydantic_refuses(case: Invalid) -> None:
    assert_refused(pydantic_errors(case.spec), case)


@pytest.mark.parametrize("case", PYDANTIC_ONLY.values(), ids=PYDANTIC_ONLY.keys())
def test_pydantic_alone_refuses(case: Invalid) -> None:
    assert_refused(pydantic_errors(case.spec), case)


def apiserver_errors(
    kube_api: client.ApiClient, namespace: str, spec: dict[str, Any]
) -> list[tuple[str, str]]:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelServe",
        "metadata": {"name": f"invalid-{secrets.token_hex(3)}"},
        "spec": spec,
    }
    with pytest.raises(ApiException) as caught:
        client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body, dry_run="All"
        )
    status = json.loads(caught.value.body)
    assert caught.value.status == 422, status
    assert status["reason"] == "Invalid", status
    return [
        (str(c.get("field", "")), str(c.get("message", "")))
        for c in status["details"].get("causes", [])
    ]


@pytest.mark.parametrize("case", INVALID_SPECS.values(), ids=INVALID_SPECS.keys())
def test_apiserver_refuses(kube_api: client.ApiClient, namespace: str, case: Invalid) -> None:
    assert_refused(apiserver_errors(kube_api, namespace, case.spec), case)


def test_apiserver_accepts_the_valid_spec(kube_api: client.ApiClient, namespace: str) -> None:
    """The rows fail for their own reason: the spec they start from is valid."""
    body = modelserve_object("valid", ModelServeSpec.model_validate(spec_with()))
    created = client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body, dry_run="All"
    )
    assert created["spec"]["model"]["name"] == "smollm2:135m"
