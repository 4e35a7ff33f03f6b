"""Keep a long-running server's resident memory flat under concurrent inference.

glibc gives each thread its own malloc arena and keeps freed blocks there; inference
buffers freed on one executor thread stay resident, so memory ratchets up with every
thread that ever ran a job (measured with Piper, 2 slots and 8 clients: 200 MB at rest,
630 MB after a minute). ``malloc_trim(0)`` after each job hands the free pages of every
arena back to the kernel (same load: 200-235 MB). It runs off the request path on one
thread, at most one at a time (median 1.6 ms, p95 10 ms under that load).

Engines that keep scratch memory for speed (onnxruntime's arena in Piper) give it back
on the same thread when their model goes idle (nothing admitted), not after every job:
under load the next job would only fault it in again.

Each thread that allocates under contention gets an arena of its own (up to 8 per core),
and fragments left in many arenas vary from run to run: the same load left 290-345 MB.
``limit_arenas(2)`` at start keeps it within a few MB of where it started.

A fixed mmap threshold would also cap the ratchet, but it turns large buffers into
mmap/munmap pairs with page faults on every use: 1 MiB costs faster-whisper ~25%.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


def _glibc() -> Any | None:
    """glibc with ``malloc_trim``, or None elsewhere (macOS, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


_M_ARENA_MAX = -8  # mallopt parameter from glibc's malloc.h


def limit_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas (for threads that start allocating from now on).

    Returns whether the cap was set; 0, or a platform without glibc, leaves the default.
    """
    libc = _glibc() if arenas > 0 else None
    return bool(libc is not None and libc.mallopt(_M_ARENA_MAX, arenas) == 1)


class MemoryTrimmer:
    """Gives memory back after jobs on its own thread: engine scratch memory when a model
    goes idle, then glibc's free heap pages. At most one run is queued behind the one
    running; a job that ends meanwhile is covered by the queued run."""

    def __init__(self, enabled: bool = True) -> None:
        self._libc = _glibc() if enabled else None
        self._lock = threading.Lock()
        self._queued = False
        self._releases: set[Callable[[], None]] = set()
        self._done = threading.Event()
        self._done.set()
        self._executor: ThreadPoolExecutor | None = None
        self.trims = 0

    @property
    def active(self) -> bool:
        """Whether malloc trimming is on and supported here."""
        return self._libc is not None

    def after_job(self, release: Callable[[], None] | None = None) -> None:
        """Ask for a trim, first calling ``release`` (an idle engine's release_memory)."""
        with self._lock:
            if release is not None:
                self._releases.add(release)
            if self._queued or (self._libc is None and not self._releases):
                return
            self._queued = True
            self._done.clear()
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="polyvox-trim")
        self._executor.submit(self._run)

    def _run(self) -> None:
        with self._lock:
            self._queued = False
            releases, self._releases = self._releases, set()
        try:
            for release in releases:
                try:
                    release()
                except Exception:
                    log.exception("giving engine memory back failed")
            if self._libc is not None:
                self._libc.malloc_trim(0)
                self.trims += 1
        finally:
            with self._lock:
                if not self._queued:
                    self._done.set()

    def wait(self) -> None:
        """Block until no run is queued or running (for tests and shutdown)."""
        self._done.wait()
