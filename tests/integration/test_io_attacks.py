"""Hardening 3: slow object storage cannot starve the server's threads.

The probe made six voice creations from slow ``gs://`` sources (33-51 s each: the reference
timeout did not apply to object stores) and another key's one-line Piper request took 46 s
instead of 0.2 s, because every blocking step shared asyncio's default executor (6 threads
on 2 cores). Here an object store that accepts connections and never answers stands in
for the slow bucket.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.attacks import ALICE, Server, attack_server

pytestmark = pytest.mark.integration
DEADLINE = 3.0
"""``reference.timeout`` of the test server: object-store fetches get it too."""
CREATES = 12
"""Voice creations at once: more than asyncio's default executor has threads on up to 8
cores (cores + 4), which is what made the old server starve."""


@pytest.fixture(scope="module")
def silent_store() -> Iterator[str]:
    """An "S3 endpoint" that accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


@pytest.fixture(scope="module")
def server(silent_store: str) -> Iterator[Server]:
    env = {
        "POLYVOX_STORAGE__S3_ENDPOINT_URL": silent_store,
        "POLYVOX_STORAGE__S3_REGION": "us-east-1",
        "POLYVOX_STORAGE__S3_ACCESS_KEY_ID": "test",
        "POLYVOX_STORAGE__S3_SECRET_ACCESS_KEY": "test",
        "POLYVOX_REFERENCE__TIMEOUT": str(DEADLINE),
    }
    with attack_server(env) as found:
        yield found


def _create_from_the_slow_bucket(server: Server, i: int) -> tuple[int, float, str]:
    started = time.monotonic()
    answer = httpx.post(
        f"{server.url}/v1/audio/voices",
        headers={"Authorization": f"Bearer {ALICE}"},
        json={"name": f"slow {i}", "audio_sample": f"s3://bucket/ref-{i}.wav", "consent": "Me"},
        timeout=300,
    )
    code = answer.json()["error"]["code"] if answer.status_code >= 400 else ""
    return answer.status_code, time.monotonic() - started, code


def test_slow_object_store_fetches_cannot_starve_another_keys_speech(server: Server) -> None:
    """#8: while one key's voice creations wait on a bucket that never answers, another
    key's Piper request is served; the fetches end at the reference deadline, not never."""
    with ThreadPoolExecutor(CREATES) as pool:
        creates = [pool.submit(_create_from_the_slow_bucket, server, i) for i in range(CREATES)]
        time.sleep(1.0)  # every creation is waiting on the bucket now
        assert not any(c.done() for c in creates)
        answer = httpx.post(  # BOB, a plain sentence, while ALICE's fetches hang
            f"{server.url}/v1/audio/speech",
            headers={"Authorization": "Bearer bob-key"},
            json={"model": "piper", "input": "Hello there.", "response_format": "wav"},
            timeout=20,
        )
        assert answer.status_code == 200
        assert not all(c.done() for c in creates)  # served while the fetches still hang
        results = [c.result() for c in creates]
    for status, seconds, code in results:
        assert status == 422, results  # the reference could not be fetched in time
        assert code == "invalid_request"
        # one key runs at most limits.io_per_client (4) fetches at once: three rounds
        assert seconds < 3 * DEADLINE + 20, results


def test_an_object_store_reference_gets_the_reference_deadline(server: Server) -> None:
    """A reference read from object storage gets the same deadline as an https one: the
    request fails with a 422 that says why, it does not hang."""
    started = time.monotonic()
    answer = httpx.post(
        f"{server.url}/v1/audio/voices",
        headers={"Authorization": f"Bearer {ALICE}"},
        json={"name": "one slow", "audio_sample": ["s3://bucket/slow.wav"], "consent": "Me"},
        timeout=120,
    )
    assert answer.status_code == 422, answer.text
    assert "took longer than" in json.dumps(answer.json())
    assert time.monotonic() - started < DEADLINE + 20
