"""`modelserve-operator`: runs the kopf operator with the handlers of this package.

Environment: KUBECONFIG (unset → in-cluster), S3_ENDPOINT / S3_ACCESS_KEY / S3_SECRET_KEY /
S3_SECURE (handed to the model-fetch init containers; use a read-only key), optional
MODEL_FETCH_S3_ENDPOINT, OPERATOR_NAMESPACES (JSON list; empty = all namespaces), LLAMA_IMAGE,
LLAMA_CUDA_IMAGE, MODEL_FETCH_IMAGE, MAX_WORKERS, LIVENESS_PORT, LOG_LEVEL, DEV_MODE.
SIGTERM/SIGINT stop it gracefully (kopf finishes running handlers first).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import kopf

from inference_common.logging import configure_logging
from modelserve_operator import handlers
from modelserve_operator.settings import OperatorSettings

_NOISY_ATTRS = ("settings", "k8s_skip", "k8s_ref")


class KopfContextFilter(logging.Filter):
    """Flattens kopf's per-object context into plain log fields (name, namespace, uid)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict):
            if ref.get("kind"):
                record.kind = ref.get("kind")
            if ref.get("name") and not hasattr(record, "modelserve"):
                record.object = ref.get("name")
            if ref.get("namespace") and not hasattr(record, "namespace"):
                record.namespace = ref.get("namespace")
            if ref.get("uid"):
                record.uid = ref.get("uid")
        for attr in _NOISY_ATTRS:
            record.__dict__.pop(attr, None)
        return True


def setup_logging(level: str) -> None:
    configure_logging(level)
    for handler in logging.getLogger().handlers:
        handler.addFilter(KopfContextFilter())
    # kopf reports every handler success at INFO: the operator logs its own outcomes instead
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="modelserve-operator")
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=None,
        help="serve only this namespace or glob pattern such as '!opt-*' (repeatable); "
        "overrides OPERATOR_NAMESPACES",
    )
    args = parser.parse_args(argv)
    settings = OperatorSettings()  # fails fast on unsafe settings, before connecting
    setup_logging(settings.log_level)
    namespaces: list[str] = list(args.namespace or settings.namespaces)
    liveness = (
        f"http://{settings.liveness_host}:{settings.liveness_port}/healthz"
        if settings.liveness_port
        else None
    )
    assert handlers.reconcile is not None  # the import registers the handlers
    kopf.run(
        memo=kopf.Memo(namespaces=namespaces),
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=liveness,
    )


if __name__ == "__main__":
    main()
