"""A small upload that decodes to an hour of audio: memory stays bounded, Whisper stays quiet.

The attack: a 645 KB FLAC holding 59 minutes of silence. Decoded whole before admission it
took a 2.9 GB RSS peak (two at once: 3.76 GB) and came back as "You You You ...".
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.processes import rss_mb, settled_rss_mb, spawn_server
from tests.stt_audio import silent_flac, speech_wav

pytestmark = pytest.mark.integration
GROWTH_LIMIT_MB = 450
"""Documented bound (README, docs/speech-to-text.md): two such uploads at once add less
than this to the server's resident memory (measured: about +260 MB)."""


def test_two_silent_hours_at_once_stay_within_the_memory_bound() -> None:
    flac = silent_flac(59 * 60)
    assert len(flac) < 1_000_000
    proc, url = spawn_server({"POLYVOX_PRELOAD": '["piper", "whisper"]'})
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(proc.pid))
            time.sleep(0.05)

    def transcribe(_: int) -> httpx.Response:
        return httpx.post(
            f"{url}/v1/audio/transcriptions",
            files={"file": ("silence.flac", flac, "audio/flac")},
            data={"model": "whisper-1", "response_format": "verbose_json"},
            timeout=300,
        )

    try:
        warm = httpx.post(
            f"{url}/v1/audio/transcriptions", data={"model": "whisper-1"},
            files={"file": ("a.wav", speech_wav("Warm up."), "audio/wav")}, timeout=60,
        )  # fmt: skip
        assert warm.status_code == 200
        baseline = settled_rss_mb(proc.pid)
        sampler = threading.Thread(target=sample)
        sampler.start()
        with ThreadPoolExecutor(2) as pool:
            responses = list(pool.map(transcribe, range(2)))
        done.set()
        sampler.join()
        for response in responses:
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["text"] == ""  # VAD (on for long audio) leaves nothing to invent
            assert body["duration"] == pytest.approx(59 * 60, abs=0.1)
        assert peak[0] - baseline < GROWTH_LIMIT_MB, (baseline, peak[0])
        assert httpx.get(f"{url}/health/ready").status_code == 200
    finally:
        done.set()
        proc.kill()
        proc.wait()
