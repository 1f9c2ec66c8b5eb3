"""Renewing the init containers' presigned URLs before they expire.

Each ModelServe with an s3 model is scheduled on one requeue timer (one thread for all of
them, idle until the earliest is due) for the end of its signing window (see fetchurl); then
its children are written again with the next window's URL: a new fetch Secret (the operator
may only create Secrets) and the Deployment pointing at it, so pods started from then on —
restarts, new replicas — fetch with a valid URL.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import kopf
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from modelserve_operator.childwriter import ChildNotOwnedError, ChildWriteError, write_children
from modelserve_operator.coalesce import Coalescer, Requeuer
from modelserve_operator.fetchurl import FetchUrlSigner
from modelserve_operator.indices import one
from modelserve_operator.manifests import ManifestConfig, Owner, children, owner_of

RETRY_DELAY = 60.0
Key = tuple[str, str]

log = logging.getLogger("modelserve_operator")


class UrlRenewer:
    def __init__(
        self,
        api: ApiClient,
        apply_pool: Executor,
        signer: FetchUrlSigner,
        config: ManifestConfig,
        server_uuid_key: str,
        modelserves: kopf.Index[Any, Any],
    ) -> None:
        self.api = api
        self.apply_pool = apply_pool
        self.signer = signer
        self.config = config
        self.server_uuid_key = server_uuid_key
        self.modelserves = modelserves
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="renew")
        self._queue: Coalescer[Key] = Coalescer(self._pool, self._job)
        self._requeuer: Requeuer[Key] = Requeuer(self._queue.submit)

    def schedule(self, owner: Owner, now: float) -> None:
        """Renews the owner's URL at the end of its current window (s3 models only)."""
        if owner.spec.model.source.s3 is None:
            return
        due = self.signer.window(owner, now).end - now
        self._requeuer.schedule((owner.namespace, owner.name), due + 1)

    def pending(self) -> int:
        return self._requeuer.pending()

    def close(self) -> None:
        self._requeuer.stop()
        self._pool.shutdown(wait=True)

    def _job(self, key: Key) -> None:
        namespace, name = key
        ms = one(self.modelserves, key)
        meta = (ms or {}).get("metadata") or {}
        if ms is None or meta.get("deletionTimestamp"):
            return  # gone: nothing to renew
        try:
            owner = owner_of(namespace, name, meta, ms.get("spec") or {}, self.server_uuid_key)
        except ValidationError:
            return  # the reconcile reports it; a fixed spec is reconciled and scheduled again
        now = time.time()
        objects = children(owner, self.config, self.signer.url_for(owner, now))
        try:
            write_children(self.api, self.apply_pool, owner, objects, lambda _: None)
        except (ChildNotOwnedError, ChildWriteError, ApiException) as exc:
            log.warning(
                "renewing the model URL failed, retrying in %ss: %s",
                RETRY_DELAY,
                exc,
                extra={"modelserve": name, "namespace": namespace},
            )
            self._requeuer.schedule(key, RETRY_DELAY)
            return
        log.info("model URL renewed", extra={"modelserve": name, "namespace": namespace})
        self.schedule(owner, now)
