"""Hardening 3: audio that declares a tiny rate or hides its length.

Three attacks on a real ``polyvox serve``, each replayed here while a thread samples the
server's resident memory:

* a 120 KB FLAC whose one frame holds 65,535 samples at 32 Hz (34 minutes; STREAMINFO's
  total length zeroed, so nothing declares it) as a voice upload: resampled whole to 24 kHz
  before any limit was checked (and the same at 8 Hz: 2.3 hours);
* the same file sent twice at once for transcription (resampled whole to 16 kHz);
* 20 minutes of silence at 48 kHz (a 20 KB FLAC) as ``reference_audio`` of a cloning model:
  decoded whole before its length was compared with the 60 s limit.

Each must now be refused (a 4xx in OpenAI's error shape) with the server's memory staying
within ``GROWTH_LIMIT_MB``, and the server must answer a normal request afterwards.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx
import pytest

from tests.processes import rss_mb, settled_rss_mb, spawn_server, stop
from tests.stt_audio import low_rate_flac, silent_flac, speech_wav

pytestmark = pytest.mark.integration
T = TypeVar("T")
GROWTH_LIMIT_MB = 300
"""The most each attack here may add to the server's resident memory while it runs.
Measured before frames were checked ahead of resampling: +1.13 GB (voice upload at 32 Hz,
a 413 at the end), +4.5 GB (at 8 Hz), +1.75 GB (two transcriptions at once, both 200 after
transcribing 34 minutes of resampled noise), +446 MB (reference, a 422 at the end); after
it, under 10 MB each."""
CLONER = "cloner"
"""A cloning model of a stand-in polyvox server: the speech route checks its reference."""


def with_peak_growth(pid: int, attack: Callable[[], T]) -> tuple[float, T]:
    """What ``attack`` returns, and the most it added to ``pid``'s resident memory (MiB)."""
    baseline = settled_rss_mb(pid)
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = attack()
    finally:
        done.set()
        sampler.join()
    return peak[0] - baseline, result


def openai_error(response: httpx.Response, param: str) -> dict[str, Any]:
    """The error of a 4xx answer in OpenAI's shape, naming ``param``."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    error: dict[str, Any] = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}, error
    assert error["param"] == param, error
    return error


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A Piper server with a voice library; its process id and URL."""
    proc, url = spawn_server({"POLYVOX_VOICES__URL": str(tmp_path / "voices")})
    try:
        yield proc.pid, url
    finally:
        stop(proc)


def create_voice(url: str, audio: bytes) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/audio/voices",
        data={"name": "Attack", "consent": "Jo Speaker"},
        files={"audio_sample": ("voice.flac", audio, "audio/flac")},
        timeout=300,
    )


@pytest.mark.parametrize("rate", [32, 8])
def test_a_voice_upload_at_a_tiny_rate_is_refused_within_the_memory_bound(
    server: tuple[int, str], rate: int
) -> None:
    pid, url = server
    flac = low_rate_flac(rate)
    assert len(flac) < 128 * 1024
    growth, response = with_peak_growth(pid, lambda: create_voice(url, flac))
    assert growth < GROWTH_LIMIT_MB, (growth, response.status_code)
    assert response.status_code == 422, response.text  # "not audio polyvox can read (...)"
    error = openai_error(response, "audio_sample")
    assert "sample rate" in error["message"], error
    made = create_voice(url, speech_wav())
    assert made.status_code == 201, made.text


def transcribe(url: str, audio: bytes, name: str = "upload.flac") -> httpx.Response:
    return httpx.post(
        f"{url}/v1/audio/transcriptions",
        data={"model": "whisper-1"},
        files={"file": (name, audio, "audio/flac")},
        timeout=300,
    )


def test_two_transcriptions_at_32_hz_at_once_stay_within_the_memory_bound() -> None:
    flac = low_rate_flac(32)
    proc, url = spawn_server({"POLYVOX_PRELOAD": '["piper", "whisper"]'})
    try:
        assert transcribe(url, speech_wav("Warm up."), "a.wav").status_code == 200

        def attack() -> list[httpx.Response]:
            with ThreadPoolExecutor(2) as pool:
                return list(pool.map(lambda _: transcribe(url, flac), range(2)))

        growth, responses = with_peak_growth(proc.pid, attack)
        assert growth < GROWTH_LIMIT_MB, (growth, [r.status_code for r in responses])
        for response in responses:
            assert response.status_code == 415, response.text
            assert "sample rate" in openai_error(response, "file")["message"]
        assert transcribe(url, speech_wav("Afterwards."), "b.wav").status_code == 200
    finally:
        stop(proc)


class _Cloner(http.server.BaseHTTPRequestHandler):
    """Another polyvox server's description of a cloning model, and nothing more: the
    reference is refused before anything is sent to it."""

    answers: ClassVar[dict[str, dict[str, Any]]] = {
        f"/v1/models/{CLONER}": {
            "id": CLONER,
            "object": "model",
            "kind": "tts",
            "languages": ["en"],
            "capabilities": {"engine": "fake", "voice_cloning": True, "sample_rate": 24000},
        },
        f"/v1/audio/voices?model={CLONER}": {
            "data": [{"id": "default", "language": "en", "sample_rate": 24000}]
        },
    }

    def do_GET(self) -> None:
        answer = self.answers.get(self.path)
        body = json.dumps(answer or {"error": {"message": "not here"}}).encode()
        self.send_response(200 if answer else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def cloning_server(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A Piper server that also serves the stand-in's cloning model; its pid and URL."""
    standin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Cloner)
    thread = threading.Thread(target=standin.serve_forever, daemon=True)
    thread.start()
    remote = {"engine": "polyvox", "url": f"http://127.0.0.1:{standin.server_address[1]}"}
    models = {"piper": {"engine": "piper"}, CLONER: {**remote, "discovery_attempts": 1}}
    env = {
        "POLYVOX_MODELS": json.dumps(models),
        "POLYVOX_REFERENCE__CACHE_DIR": str(tmp_path / "references"),
    }
    try:
        proc, url = spawn_server(env)
        try:
            yield proc.pid, url
        finally:
            stop(proc)
    finally:
        standin.shutdown()
        thread.join(timeout=10)


def test_twenty_minutes_of_silence_as_reference_audio_stop_at_the_limit(
    cloning_server: tuple[int, str],
) -> None:
    pid, url = cloning_server
    flac = silent_flac(20 * 60, 48000, frame_size=65_535)
    assert len(flac) < 32 * 1024
    body = {
        "model": CLONER,
        "input": "Hello.",
        "response_format": "wav",
        "reference_audio": base64.b64encode(flac).decode(),
    }

    def attack() -> httpx.Response:
        return httpx.post(f"{url}/v1/audio/speech", json=body, timeout=300)

    growth, response = with_peak_growth(pid, attack)
    assert growth < GROWTH_LIMIT_MB, (growth, response.status_code)
    assert response.status_code == 422, response.text
    error = openai_error(response, "reference_audio")
    assert "limit is 60s" in error["message"], error
    spoken = httpx.post(
        f"{url}/v1/audio/speech", json={"model": "piper", "input": "Still here."}, timeout=60
    )
    assert spoken.status_code == 200, spoken.text
