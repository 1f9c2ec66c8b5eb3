"""Process-wide memory settings of the server (glibc malloc), applied before the app starts.

glibc serves large blocks (Argon2's 19 MiB per hash, upload part buffers) with mmap and
returns them to the system when freed, but after the first such free it raises its mmap
threshold to that block's size (up to 32 MiB), so later blocks come from the heap or a
per-thread arena and stay resident after use: each login and each upload thread then kept
~20 MiB. Fixing the threshold (which turns the adjustment off) keeps large blocks returnable.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

logger = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc malloc.h
MMAP_THRESHOLD_BYTES = 1024 * 1024


def return_large_blocks_to_the_system(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Blocks of `threshold` bytes or more are mmapped and unmapped when freed (glibc only;
    elsewhere a no-op). True when the setting was applied."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(M_MMAP_THRESHOLD, threshold))
    if not applied:
        logger.warning("mallopt(M_MMAP_THRESHOLD) was refused")
    return applied
