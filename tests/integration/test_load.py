"""Bounded load test: 2 slots, a queue bound, client processes on 127.0.0.1."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.integration.load_client import run_client
from tests.processes import settled_rss_mb, spawn_server

SLOTS, QUEUE = 2, 4  # at most 6 requests admitted at once


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, str]]:
    env = {"POLYVOX_TTS_SLOTS": str(SLOTS), "POLYVOX_TTS_QUEUE": str(QUEUE)}
    proc, url = spawn_server(env)
    try:
        yield proc.pid, url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def load(url: str, clients: int, seconds: float) -> Counter[int]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(clients) as pool:
        runs = pool.starmap(run_client, [(url, seconds, seed) for seed in range(clients)])
    statuses: Counter[int] = Counter()
    for results in runs:
        for status, retry_after in results:
            statuses[status] += 1
            if status == 429:
                assert retry_after, "429 must carry Retry-After"
    return statuses


@pytest.mark.slow
def test_load_within_and_past_the_queue_bound(server: tuple[int, str]) -> None:
    pid, url = server
    # warm up threads, arenas and encoders at both load shapes below, so the baseline holds
    # what steady use needs and growth measures leaks, not the first reach of a peak
    load(url, SLOTS + QUEUE, 10)
    load(url, 8, 10)
    baseline = settled_rss_mb(pid)

    within = load(url, SLOTS + QUEUE, 25)
    assert set(within) == {200}, f"no 429 or 5xx while clients <= slots + queue: {within}"

    past = load(url, 8, 45)
    assert past[200] > 0
    assert past[429] > 0, "8 clients against 6 places must be turned away sometimes"
    assert set(past) <= {200, 429}, f"only 200 and 429 expected: {past}"

    total = sum(within.values()) + sum(past.values())
    assert total >= 500, f"only {total} requests"
    growth = settled_rss_mb(pid) / baseline
    print(f"settled RSS growth {growth:.3f}x over {total} requests")
    assert growth < 1.10, f"resident memory grew {growth:.2f}x over {total} requests"
