"""Writing a ModelServe's children. Nothing is written while any child exists and is not owned
by the ModelServe (the refusal becomes its condition); then what the pods need is applied in
parallel, then the Deployment that makes the pods."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from modelserve_operator import kubeapi, metrics
from modelserve_operator.childmeta import Owner
from modelserve_operator.manifests import is_subset
from modelserve_operator.ownership import refusal
from modelserve_operator.status import Problem

Child = Mapping[str, Any]


class ChildNotOwnedError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class ChildWriteError(Exception):
    def __init__(self, child: Child, error: ApiException) -> None:
        self.what = f"{child['kind']} {child['metadata']['name']}"
        super().__init__(f"{self.what}: {kubeapi.error_message(error)}")
        self.error = error


def _observe(api: ApiClient, child: Child, indexed: Any) -> Any:
    """The child as it is: from the watch index, else read."""
    if indexed is not None:
        return indexed
    return kubeapi.get_object(api, child)


def _write(api: ApiClient, child: Child, observed: Any, owner: Owner) -> None:
    if observed is not None:
        kubeapi.apply(api, child)
        return
    try:
        kubeapi.apply(api, child, force=False)
    except ApiException as exc:
        if exc.status != 409:
            raise
        # it appeared since it was read: whose is it?
        problem = refusal(child, kubeapi.get_object(api, child), owner.name, owner.uid)
        if problem is not None:
            raise ChildNotOwnedError(problem) from None
        kubeapi.apply(api, child)


def write_children(
    api: ApiClient,
    pool: Executor,
    owner: Owner,
    children: Sequence[Child],
    indexed: Callable[[Child], Any],
) -> int:
    """Applies the children that differ from what is observed; returns how many did not.
    Raises ChildNotOwnedError (nothing written over a foreign object) or ChildWriteError."""
    reads = [(c, pool.submit(_observe, api, c, indexed(c))) for c in children]
    observed = []
    for child, read in reads:
        try:
            observed.append(read.result())
        except ApiException as exc:
            metrics.child_apply_failed(child["kind"], exc)
            raise ChildWriteError(child, exc) from exc
    for child, seen in zip(children, observed, strict=True):
        problem = refusal(child, seen, owner.name, owner.uid)
        if problem is not None:
            raise ChildNotOwnedError(problem)
    pairs = list(zip(children, observed, strict=True))
    waves = [
        [p for p in pairs if p[0]["kind"] != "Deployment"],
        [p for p in pairs if p[0]["kind"] == "Deployment"],
    ]
    skipped = 0
    for wave in waves:
        todo = [(c, o) for c, o in wave if o is None or not is_subset(c, o)]
        skipped += len(wave) - len(todo)
        futures = [(c, pool.submit(_write, api, c, o, owner)) for c, o in todo]
        for child, future in futures:
            try:
                future.result()
            except ApiException as exc:
                metrics.child_apply_failed(child["kind"], exc)
                raise ChildWriteError(child, exc) from exc
    return skipped
