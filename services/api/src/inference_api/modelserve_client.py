"""ModelServe custom objects through the official (blocking) client.

Every call here blocks; the async methods run them in a worker thread so the event loop
never waits on the apiserver.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as TransportError

from inference_common.errors import ConflictError, UnavailableError
from inference_common.modelserve import GROUP, PLURAL, VERSION

REQUEST_TIMEOUT = 10.0


class ModelServeClient:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)

    # blocking ---------------------------------------------------------------------------------

    def create_sync(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            created = self.custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, body, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 409:
                raise ConflictError(
                    f"ModelServe {body['metadata']['name']!r} already exists in {namespace!r}"
                ) from exc
            raise _refused("the ModelServe", exc) from exc
        except TransportError as exc:
            raise _unreachable() from exc
        out: dict[str, Any] = dict(created)  # type: ignore[call-overload]
        return out

    def delete_sync(self, namespace: str, name: str) -> bool:
        """True when deleted, False when it was already gone."""
        try:
            self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise _refused("to delete the ModelServe", exc) from exc
        except TransportError as exc:
            raise _unreachable() from exc
        return True

    def _patch_sync(self, namespace: str, name: str, body: dict[str, Any], scale: bool) -> None:
        """One merge patch of the ModelServe, or of its scale subresource (what `kubectl scale`
        does); a ModelServe deleted meanwhile is a 409."""
        patch = (
            self.custom.patch_namespaced_custom_object_scale
            if scale
            else self.custom.patch_namespaced_custom_object
        )
        try:
            patch(GROUP, VERSION, namespace, PLURAL, name, body, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status == 404:
                raise ConflictError(f"ModelServe {name!r} is gone from {namespace!r}") from exc
            raise _refused("to patch the ModelServe", exc) from exc
        except TransportError as exc:
            raise _unreachable() from exc

    def version_sync(self) -> str:
        info = client.VersionApi(self.api).get_code(_request_timeout=REQUEST_TIMEOUT)
        return str(info.git_version)

    # async --------------------------------------------------------------------------------------

    async def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(self.create_sync, namespace, body)

    async def delete(self, namespace: str, name: str) -> bool:
        return await asyncio.to_thread(self.delete_sync, namespace, name)

    async def scale(self, namespace: str, name: str, replicas: int) -> None:
        body = {"spec": {"replicas": replicas}}
        await asyncio.to_thread(self._patch_sync, namespace, name, body, True)

    async def patch_annotations(
        self, namespace: str, name: str, annotations: dict[str, str]
    ) -> None:
        body = {"metadata": {"annotations": annotations}}
        await asyncio.to_thread(self._patch_sync, namespace, name, body, False)

    async def version(self) -> str:
        return await asyncio.to_thread(self.version_sync)


def _refused(what: str, exc: ApiException) -> UnavailableError:
    return UnavailableError(
        f"Kubernetes refused {what} ({exc.status} {exc.reason})", {"status": exc.status}
    )


def _unreachable() -> UnavailableError:
    return UnavailableError("Kubernetes API unreachable")
