"""What the handlers share, kept in kopf's memo: the operator's settings, the API client, the
pool children are applied in, the manifests' inputs, the model URL signer, the fetch slots'
renewer and the status writer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from kubernetes.client import ApiClient

from inference_common.kube import api_client
from inference_common.kube_events import EventRecorder
from modelserve_operator.childmeta import ManifestConfig
from modelserve_operator.fetchurl import FetchUrlSigner
from modelserve_operator.indices import StatusIndices
from modelserve_operator.renewal import SlotRenewer
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
        self.fetch_urls = FetchUrlSigner.with_key(
            settings.fetch_s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(),
            settings.s3_secure,
            settings.model_fetch_s3_region,
            timedelta(seconds=settings.model_url_ttl_seconds),
        )
        self.manifest_config = ManifestConfig(
            llama_image=settings.llama_image,
            llama_cuda_image=settings.llama_cuda_image,
            fetch_image=settings.model_fetch_image,
            entry_point=settings.traefik_entry_point,
            signer_digest=self.fetch_urls.digest,
            authz_url=settings.gateway_authz_url,
            network_policy_peers=tuple(settings.network_policy_peers),
            model_cache=settings.model_cache,
        )
        self.server_uuid_key = settings.server_uuid_key.get_secret_value()
        self.events = EventRecorder(self.api, component="modelserve-operator")
        self.status = StatusWriter(
            self.api, indices, self.server_uuid_key, STATUS_WORKERS, events=self.events
        )
        self.renewals = SlotRenewer(
            self.api,
            self.fetch_urls,
            self.manifest_config,
            self.server_uuid_key,
            indices.modelserves,
        )

    def close(self) -> None:
        self.renewals.close()
        self.status.close()
        self.apply_pool.shutdown(wait=True)
        self.api.close()


def context_of(memo: Any) -> OperatorContext:
    ctx = memo[MEMO_KEY]
    assert isinstance(ctx, OperatorContext)
    return ctx
