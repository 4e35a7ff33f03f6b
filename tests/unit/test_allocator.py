"""The memory trimmer: runs glibc malloc_trim off the caller's thread, one at a time."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from polyvox.allocator import MemoryTrimmer
from tests.processes import rss_mb

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")


@glibc_only
def test_a_trim_gives_freed_arena_memory_back() -> None:
    import os
    import threading

    trimmer = MemoryTrimmer()
    assert trimmer.active

    def churn() -> None:  # small blocks on a non-main thread's arena, then freed
        blocks = [np.ones(16_000) for _ in range(4_000)]  # ~500 MB of 128 kB blocks
        keep = blocks[-1]  # one live block at the top keeps the heap from shrinking alone
        del blocks
        churn.keep = keep  # type: ignore[attr-defined]

    thread = threading.Thread(target=churn)
    thread.start()
    thread.join()
    before = rss_mb(os.getpid())
    trimmer.after_job()
    trimmer.wait()
    assert trimmer.trims == 1
    assert rss_mb(os.getpid()) < before - 200, "freed pages went back to the kernel"


def test_disabled_trimmer_does_nothing() -> None:
    trimmer = MemoryTrimmer(enabled=False)
    assert not trimmer.active
    trimmer.after_job()
    trimmer.wait()
    assert trimmer.trims == 0
