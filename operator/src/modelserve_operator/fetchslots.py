"""The fetch slots of a ModelServe: where its init containers find a presigned URL of the model.

A URL lives for L (MODEL_URL_TTL_SECONDS); a new one is signed every L/2 (a window, see
fetchurl). The pod template names two slots, 0 and 1 — each a Secret (the URL) owned by a
ConfigMap (which window the slot holds) — and consecutive windows alternate between them. The
init container takes the newest valid URL among the slots present. So the template never
changes when URLs are renewed (no pod is restarted), and the operator never reads, patches or
deletes a Secret (its role may only create them):

- window k's slot is k mod 2. When it still holds window k-2's URL (expired just now), the
  operator deletes that slot's ConfigMap in the foreground: the garbage collector deletes the
  Secret first, then the ConfigMap. Meanwhile the other slot holds window k-1's URL, valid until
  the end of window k, so a pod starting then still fetches;
- once the ConfigMap is gone, the slot is made again: the ConfigMap, then the Secret it owns.
  A Secret is only ever created into a slot whose ConfigMap has just been created, so it holds
  the ConfigMap's window.

`ensure_slot` does one step of this and says when to look again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from modelserve_operator import kubeapi
from modelserve_operator.childmeta import ManifestConfig, Owner
from modelserve_operator.childwriter import ChildNotOwnedError, ChildWriteError
from modelserve_operator.fetchpod import WINDOW_KEY, fetch_holder, fetch_secret
from modelserve_operator.fetchurl import FetchUrlSigner
from modelserve_operator.ownership import refusal

REPLACING_DELAY = 2.0
"""How soon to look again while a slot's old ConfigMap and Secret are being deleted."""


@dataclass(frozen=True)
class SlotStep:
    ready: bool
    """The current window's URL is in its slot."""
    next_in: float
    """Seconds until the slot needs another step."""
    renewed: bool = False
    """This step filled the slot with a new URL."""


def holds_window(observed: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    return bool((observed.get("data") or {}).get(WINDOW_KEY) == desired["data"][WINDOW_KEY])


def ensure_slot(
    api: ApiClient, signer: FetchUrlSigner, config: ManifestConfig, owner: Owner, now: float
) -> SlotStep | None:
    """One step towards the current window's URL in its slot; None for a model that is not in
    the object store. Raises ChildNotOwnedError when the slot's name is taken by another, and
    ChildWriteError when a request fails."""
    window = signer.window(owner, now)
    fetch = signer.url_for(owner, window)
    if fetch is None:
        return None
    holder = fetch_holder(owner, config, window.slot, fetch)
    try:
        observed = kubeapi.get_object(api, holder)
        problem = refusal(holder, observed, owner.name, owner.uid)
        if problem is not None:
            raise ChildNotOwnedError(problem)
        if observed is not None and (observed.get("metadata") or {}).get("deletionTimestamp"):
            return SlotStep(ready=False, next_in=REPLACING_DELAY)
        if observed is not None and not holds_window(observed, holder):
            kubeapi.delete_foreground(api, observed)
            return SlotStep(ready=False, next_in=REPLACING_DELAY)
        renewed = observed is None
        if observed is None:
            observed = kubeapi.apply(api, holder, force=False)
    except ApiException as exc:
        raise ChildWriteError(holder, exc) from exc
    secret = fetch_secret(observed, fetch)
    try:
        # created now, or again after a crash between the two creates; present: left as is
        kubeapi.create(api, secret)
    except ApiException as exc:
        raise ChildWriteError(secret, exc) from exc
    return SlotStep(ready=True, next_in=window.end - now, renewed=renewed)
