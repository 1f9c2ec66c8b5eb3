"""Kubernetes names derived from registry names (pure)."""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 63  # DNS-1123 label: Services and routes are named after the ModelServe


def modelserve_name(model_name: str, server_uuid: str) -> str:
    """`<slug of the model name>-<first 8 hex of the uuid>`, a valid DNS-1123 label."""
    suffix = server_uuid.replace("-", "")[:8].lower()
    slug = re.sub(r"[^a-z0-9]+", "-", model_name.lower()).strip("-")
    slug = slug[: MAX_NAME_LENGTH - len(suffix) - 1].rstrip("-")
    if not slug or not slug[0].isalpha():
        slug = f"m-{slug}".rstrip("-")[: MAX_NAME_LENGTH - len(suffix) - 1].rstrip("-")
    return f"{slug}-{suffix}"
