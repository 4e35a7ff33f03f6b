"""onnxruntime's CPU arena, shared by every session in the process and given back on demand."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

_arena_lock = threading.Lock()
_arena_shared = False


def share_cpu_arena(onnxruntime: Any) -> None:
    """Register the process-wide CPU arena that onnxruntime sessions share (once)."""
    global _arena_shared
    with _arena_lock:
        if _arena_shared:
            return
        info = onnxruntime.OrtMemoryInfo(
            "Cpu",
            onnxruntime.OrtAllocatorType.ORT_ARENA_ALLOCATOR,
            0,
            onnxruntime.OrtMemType.DEFAULT,
        )
        try:
            onnxruntime.create_and_register_allocator(info, onnxruntime.OrtArenaCfg(0, -1, -1, -1))
        except Exception as exc:  # registered already (by another engine in this process)
            log.debug("shared CPU arena not registered: %s", exc)
        _arena_shared = True


def session_options(onnxruntime: Any, threads: int, *, alone: bool) -> Any:
    """Options of a session that runs on ``threads`` threads and shares the process-wide CPU
    arena. Its pool threads spin between operators only where the session serves a call
    alone on every core: spinning is what keeps a lone call as fast as the library by itself
    (measured on 2 cores: a Piper sentence 1.18x slower, a paragraph 1.13x, without it),
    while a call that shares the cores must not spin on cores another run needs."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if alone else "0")
    share_cpu_arena(onnxruntime)  # one arena for every session: one shrink frees it all
    options.add_session_config_entry("session.use_env_allocators", "1")
    return options


SHRINK_EVERY = 30.0
"""Seconds between arena shrinks while busy. Each shrink makes the next runs fault the
arena in again: once a second cost ~6% on a 400-word text, heap trims and shrinks every
5-10 s still ~3% (measured); idle models give everything back anyway."""
_last_shrink = 0.0
_release = threading.local()
"""``now`` is true while this thread runs release_memory (see ReleasingSession)."""


class ReleasingSession:
    """An onnxruntime session whose run shrinks the CPU arena when release_memory runs
    (``_release.now``) and otherwise at most once every SHRINK_EVERY seconds.

    The arena keeps the largest run it has seen (grown in powers of two: ~480 MB after
    one paragraph) and, with concurrent runs, the worst overlap. Shrinking after every
    run costs ~10% at concurrency 1 (every run faults its pages in again) and ~14% of
    throughput under mixed load. The service calls release_memory when the model goes
    idle, so memory goes back between bursts; while busy it is cut back every SHRINK_EVERY s.
    """

    def __init__(self, session: Any, options: Any) -> None:
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._session = session
        self._shrink = options

    def run(self, output_names: Any, feeds: Any) -> Any:
        global _last_shrink
        now = time.monotonic()
        with _arena_lock:
            shrink = getattr(_release, "now", False) or now - _last_shrink >= SHRINK_EVERY
            if shrink:
                _last_shrink = now
        if shrink:
            return self._session.run(output_names, feeds, self._shrink)
        return self._session.run(output_names, feeds)

    def __getattr__(self, name: str) -> Any:
        """Everything else is the session's (inputs, outputs, metadata: Kokoro reads them)."""
        return getattr(self._session, name)


@contextmanager
def shrinking() -> Iterator[None]:
    """Runs in this block (on this thread) shrink the arena: release_memory's one tiny run."""
    _release.now = True
    try:
        yield
    finally:
        _release.now = False
