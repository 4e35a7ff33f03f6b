"""The memory trimmer: runs glibc malloc_trim off the caller's thread, one at a time."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from polyvox.allocator import MemoryTrimmer, limit_arenas
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


def test_releases_run_on_the_trimmer_thread_even_when_trimming_is_off() -> None:
    import threading

    trimmer = MemoryTrimmer(enabled=False)
    threads: list[str] = []
    started, gate = threading.Event(), threading.Event()

    def release() -> None:
        started.set()
        gate.wait(5)
        threads.append(threading.current_thread().name)

    trimmer.after_job(release)  # runs, blocked on the gate
    assert started.wait(5)
    trimmer.after_job(release)  # queued behind it
    trimmer.after_job(release)  # already queued: covered by the queued run
    gate.set()
    trimmer.wait()
    assert len(threads) == 2
    assert all(name.startswith("polyvox-trim") for name in threads)
    assert trimmer.trims == 0


def test_a_failing_release_does_not_stop_the_trimmer() -> None:
    trimmer = MemoryTrimmer(enabled=False)
    calls: list[int] = []

    def broken() -> None:
        raise RuntimeError("boom")

    trimmer.after_job(broken)
    trimmer.wait()
    trimmer.after_job(lambda: calls.append(1))
    trimmer.wait()
    assert calls == [1]


@glibc_only
def test_arena_cap_is_set_only_when_asked() -> None:
    assert limit_arenas(2) is True
    assert limit_arenas(0) is False
