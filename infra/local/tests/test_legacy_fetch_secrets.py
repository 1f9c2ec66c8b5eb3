"""`make up` removes the fetch Secrets older operators wrote with the object store's key: the
pure choice, and the removal in a namespace of the test's own on the real apiserver."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from inference_common.modelserve_base import MANAGED_BY_LABEL, MANAGED_BY_OPERATOR
from inference_localstack.config import StackConfig
from inference_localstack.platform_services import (
    legacy_fetch_secrets,
    remove_legacy_fetch_secrets,
)
from inference_testkit.namespaces import temporary_namespace

OPERATOR = {MANAGED_BY_LABEL: MANAGED_BY_OPERATOR}
KEY = {"S3_ACCESS_KEY": "x", "S3_SECRET_KEY": "y", "S3_ENDPOINT": "z"}
URL = {"MODEL_URL": "u", "MODEL_URL_EXPIRES": "e"}


def secret(name: str, labels: dict[str, str], data: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name, "labels": labels}, "data": data}


@pytest.mark.parametrize(
    ("item", "legacy"),
    [
        (secret("sm-model-fetch-0a1b2c3d4e", OPERATOR, KEY), True),
        (secret("sm-model-fetch-0a1b2c3d4e-0", OPERATOR, URL), False),
        (secret("sm-model-fetch-0a1b2c3d4e", {}, KEY), False),  # not the operator's
        (secret("app-credentials", OPERATOR, KEY), False),  # not a fetch Secret
    ],
)
def test_which_secrets_are_legacy(item: dict[str, Any], legacy: bool) -> None:
    assert legacy_fetch_secrets([item]) == ([("ns", item["metadata"]["name"])] if legacy else [])


@pytest.fixture
def namespace(kube_api: client.ApiClient) -> Iterator[str]:
    with temporary_namespace(kube_api, "opt") as name:
        yield name


def test_make_up_removes_only_the_legacy_ones(kube_api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube_api)
    made = {
        "sm-model-fetch-0a1b2c3d4e": (OPERATOR, KEY),
        "sm-model-fetch-0a1b2c3d4e-0": (OPERATOR, URL),
        "team-secret": ({}, KEY),
    }
    for name, (labels, data) in made.items():
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=name, labels=labels),
            data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        )
        core.create_namespaced_secret(namespace, body)
    assert remove_legacy_fetch_secrets(StackConfig(), namespace) == 1
    left = {s.metadata.name for s in core.list_namespaced_secret(namespace).items}
    assert left >= {"sm-model-fetch-0a1b2c3d4e-0", "team-secret"}
    assert "sm-model-fetch-0a1b2c3d4e" not in left
    assert remove_legacy_fetch_secrets(StackConfig(), namespace) == 0
