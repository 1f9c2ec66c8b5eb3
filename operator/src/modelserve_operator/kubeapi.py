"""The operator's writes to the Kubernetes API: server-side apply of children, merge-patch of
the ModelServe status and the deletion of a fetch slot, through the official client's HTTP layer
(it has no typed SSA call)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from modelserve_operator.kinds import MODELSERVE, kind_of

FIELD_MANAGER = "modelserve-operator"
REQUEST_TIMEOUT = 30.0


def object_path(api_version: str, kind: str, namespace: str, name: str) -> str:
    """REST path of a namespaced object, e.g. /apis/apps/v1/namespaces/ns/deployments/n."""
    return kind_of(api_version, kind).path(namespace, name)


def _request(
    api: ApiClient,
    method: str,
    path: str,
    body: Any = None,
    content_type: str | None = None,
    query: list[tuple[str, Any]] | None = None,
) -> dict[str, Any]:
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    params = api.param_serialize(
        method=method,
        resource_path=path,
        query_params=query or [],
        header_params=headers,
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(*params, _request_timeout=REQUEST_TIMEOUT)
    response.read()
    if not 200 <= response.status < 300:
        raise ApiException(http_resp=response)
    data = response.data
    if not data:
        return {}
    result: dict[str, Any] = json.loads(data)
    return result


def _path_of(obj: Mapping[str, Any]) -> str:
    meta = obj["metadata"]
    return object_path(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])


def apply(api: ApiClient, obj: Mapping[str, Any], force: bool = True) -> dict[str, Any]:
    """Server-side apply (create or update, idempotent). With force the operator takes back
    fields others changed (its own children); without, another manager's differing field is a
    409 Conflict (creating: an object that appeared meanwhile is not taken over)."""
    return _request(
        api,
        "PATCH",
        _path_of(obj),
        body=dict(obj),
        content_type="application/apply-patch+yaml",
        query=[("fieldManager", FIELD_MANAGER), ("force", "true" if force else "false")],
    )


def create(api: ApiClient, obj: Mapping[str, Any]) -> bool:
    """Creates the object; False when one of that name exists already (left as it is)."""
    meta = obj["metadata"]
    kind = kind_of(obj["apiVersion"], obj["kind"])
    try:
        _request(
            api,
            "POST",
            kind.collection(meta["namespace"]),
            body=dict(obj),
            content_type="application/json",
            query=[("fieldManager", FIELD_MANAGER)],
        )
    except ApiException as exc:
        if exc.status == 409:
            return False
        raise
    return True


def delete_foreground(api: ApiClient, obj: Mapping[str, Any]) -> None:
    """Deletes the object (this very one: the uid is a precondition) after its dependents
    (foreground propagation: it stays, marked deleted, until they are gone)."""
    body = {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "propagationPolicy": "Foreground",
        "preconditions": {"uid": obj["metadata"]["uid"]},
    }
    try:
        _request(api, "DELETE", _path_of(obj), body=body, content_type="application/json")
    except ApiException as exc:
        if exc.status not in (404, 409):  # gone already, or replaced by another (uid)
            raise


def get_object(api: ApiClient, obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The object as it is in the cluster (same kind, namespace and name), None when absent."""
    try:
        return _request(api, "GET", _path_of(obj))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def list_objects(
    api: ApiClient,
    path: str,
    label_selector: str | None = None,
    field_selector: str | None = None,
) -> list[dict[str, Any]]:
    query: list[tuple[str, Any]] = []
    if label_selector:
        query.append(("labelSelector", label_selector))
    if field_selector:
        query.append(("fieldSelector", field_selector))
    items: list[dict[str, Any]] = _request(api, "GET", path, query=query).get("items") or []
    return items


def get_modelserve(api: ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return _request(api, "GET", MODELSERVE.path(namespace, name))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def patch_status(api: ApiClient, namespace: str, name: str, status: Mapping[str, Any]) -> None:
    """Merge-patches .status of a ModelServe (lists such as conditions are replaced whole)."""
    path = MODELSERVE.path(namespace, name) + "/status"
    _request(
        api,
        "PATCH",
        path,
        body={"status": dict(status)},
        content_type="application/merge-patch+json",
        query=[("fieldManager", FIELD_MANAGER)],
    )


def error_message(exc: ApiException) -> str:
    """The apiserver's own message from an error response, else the exception text."""
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        body = {}
    return str(body.get("message") or exc.reason or exc)
