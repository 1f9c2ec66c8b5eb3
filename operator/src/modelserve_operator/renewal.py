"""Keeping every ModelServe's fetch slots current (see fetchslots) between reconciles.

One requeue timer for all ModelServes (one thread, idle until the earliest is due) runs each
one's next slot step when it is due: at the end of its URL window, or a few seconds later while
a slot is being replaced. Only the slot's ConfigMap and Secret are written: the Deployment is
not touched, so no pod restarts.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
from kubernetes.client import ApiClient
from pydantic import ValidationError

from modelserve_operator.childmeta import ManifestConfig, Owner, owner_of
from modelserve_operator.childwriter import ChildNotOwnedError, ChildWriteError
from modelserve_operator.coalesce import Coalescer, Requeuer
from modelserve_operator.fetchslots import SlotStep, ensure_slot
from modelserve_operator.fetchurl import FetchUrlSigner
from modelserve_operator.indices import one

RETRY_DELAY = 30.0
WINDOW_MARGIN = 1.0
"""Seconds after a window's end its next step runs (the timer's clock is not the wall clock)."""
Key = tuple[str, str]

log = logging.getLogger("modelserve_operator")


class SlotRenewer:
    def __init__(
        self,
        api: ApiClient,
        signer: FetchUrlSigner,
        config: ManifestConfig,
        server_uuid_key: str,
        modelserves: kopf.Index[Any, Any],
    ) -> None:
        self.api = api
        self.signer = signer
        self.config = config
        self.server_uuid_key = server_uuid_key
        self.modelserves = modelserves
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="renew")
        self._queue: Coalescer[Key] = Coalescer(self._pool, self._job)
        self._requeuer: Requeuer[Key] = Requeuer(self._queue.submit)

    def step(self, owner: Owner, now: float) -> SlotStep | None:
        """One slot step now (see fetchslots.ensure_slot), and the next one scheduled."""
        step = ensure_slot(self.api, self.signer, self.config, owner, now)
        if step is not None:
            delay = step.next_in + (WINDOW_MARGIN if step.ready else 0.0)
            self._requeuer.schedule((owner.namespace, owner.name), delay)
        return step

    def retry_later(self, owner: Owner) -> None:
        self._requeuer.schedule((owner.namespace, owner.name), RETRY_DELAY)

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
            return  # gone: its slots go with it
        try:
            owner = owner_of(namespace, name, meta, ms.get("spec") or {}, self.server_uuid_key)
        except ValidationError:
            return  # the reconcile reports it; a fixed spec is reconciled and scheduled again
        try:
            step = self.step(owner, time.time())
        except (ChildNotOwnedError, ChildWriteError) as exc:
            log.warning(
                "renewing the model URL failed, retrying in %ss: %s",
                RETRY_DELAY,
                exc,
                extra={"modelserve": name, "namespace": namespace},
            )
            self.retry_later(owner)
            return
        if step is not None and step.renewed:
            log.info("model URL renewed", extra={"modelserve": name, "namespace": namespace})
