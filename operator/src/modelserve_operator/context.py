"""What the handlers share, kept in kopf's memo: the operator's settings, the API client, the
pool children are applied in, the manifests' inputs, and the status writer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes.client import ApiClient

from inference_common.kube import api_client
from modelserve_operator.indices import StatusIndices
from modelserve_operator.manifests import ManifestConfig, S3Credentials
from modelserve_operator.settings import OperatorSettings
from modelserve_operator.statuswriter import STATUS_WORKERS, StatusWriter

MEMO_KEY = "context"


class OperatorContext:
    def __init__(self, settings: OperatorSettings, indices: StatusIndices) -> None:
        self.settings = settings
        probe = api_client(settings.kubeconfig)
        configuration = probe.configuration
        probe.close()
        configuration.connection_pool_maxsize = 2 * settings.max_workers + STATUS_WORKERS
        self.api = ApiClient(configuration)
        self.apply_pool = ThreadPoolExecutor(settings.max_workers, thread_name_prefix="apply")
        self.credentials = S3Credentials(
            endpoint=settings.fetch_s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
        )
        self.manifest_config = ManifestConfig(
            llama_image=settings.llama_image,
            llama_cuda_image=settings.llama_cuda_image,
            fetch_image=settings.model_fetch_image,
            entry_point=settings.traefik_entry_point,
            credentials_digest=self.credentials.digest(),
            authz_url=settings.gateway_authz_url,
            network_policy_peers=tuple(settings.network_policy_peers),
        )
        self.server_uuid_key = settings.server_uuid_key.get_secret_value()
        self.status = StatusWriter(self.api, indices, self.server_uuid_key, STATUS_WORKERS)

    def close(self) -> None:
        self.status.close()
        self.apply_pool.shutdown(wait=True)
        self.api.close()


def context_of(memo: Any) -> OperatorContext:
    ctx = memo[MEMO_KEY]
    assert isinstance(ctx, OperatorContext)
    return ctx
