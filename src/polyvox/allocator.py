"""Keep a long-running server's resident memory flat under concurrent inference.

glibc gives each thread its own malloc arena and keeps freed blocks there; large
inference buffers freed on one executor thread are then held forever, so resident
memory ratchets up with the number of threads that ever ran a synthesis. A fixed mmap
threshold makes big blocks come straight from (and go straight back to) the kernel.
Measured: with Piper, 6 concurrent syntheses held ~700 MB without it and ~250 MB with a
1 MiB threshold; the bounded load test passes with 32 MiB, which, unlike 1 MiB, does not
slow faster-whisper (CTranslate2 allocates large buffers per window).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 25
"""Allocations of at least this many bytes are mmapped and returned to the kernel on free."""


def limit_retained_memory(threshold: int = MMAP_THRESHOLD) -> bool:
    """Set glibc's mmap threshold (a no-op off glibc); True when it took effect."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        done = bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    log.debug("mmap threshold set to %d bytes: %s", threshold, done)
    return done
