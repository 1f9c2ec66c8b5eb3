"""`modelserve-operator`: runs the kopf operator with the handlers of this package.

Environment: KUBECONFIG (unset → in-cluster), S3_ENDPOINT / S3_ACCESS_KEY / S3_SECRET_KEY /
S3_SECURE (handed to the model-fetch init containers; use a read-only key), optional
MODEL_FETCH_S3_ENDPOINT, OPERATOR_NAMESPACES (JSON list; empty = all namespaces), LLAMA_IMAGE,
LLAMA_CUDA_IMAGE, MODEL_FETCH_IMAGE, MAX_WORKERS, LIVENESS_PORT, METRICS_PORT, LOG_LEVEL, DEV_MODE.
SIGTERM/SIGINT stop it gracefully (kopf finishes running handlers first).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import kopf

from modelserve_operator import handlers, metrics
from modelserve_operator.logs import setup_logging
from modelserve_operator.settings import OperatorSettings, namespace_patterns


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
    namespaces = namespace_patterns(args.namespace or settings.namespaces)
    liveness = (
        f"http://{settings.liveness_host}:{settings.liveness_port}/healthz"
        if settings.liveness_port
        else None
    )
    if settings.metrics_port:
        metrics.serve(settings.metrics_port, settings.metrics_host)
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
