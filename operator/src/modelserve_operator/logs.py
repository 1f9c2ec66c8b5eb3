"""The operator's logs: JSON lines (the platform's formatter) with kopf's per-object context
flattened into plain fields. Kept free of kopf imports so it is testable on its own."""

from __future__ import annotations

import logging

from inference_common.logging import configure_logging

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
