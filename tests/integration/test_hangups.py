"""A client that hangs up stops its work on every route, not only on streamed speech."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer
from tests.integration.test_streaming import LONG_TEXT, wait_for
from tests.stt_audio import SENTENCE, speech_wav

pytestmark = pytest.mark.integration
WHISPER = "whisper"
ROUND_TRIP = Path(__file__).parent.parent / "data" / "roundtrip_sentences.txt"


def metric(server: LiveServer, name: str, model: str) -> float:
    return server.state.service.metrics.value(name, model=model)


def inflight(server: LiveServer, model: str) -> float:
    return metric(server, "polyvox_inflight_jobs", model)


@lru_cache(maxsize=1)
def long_speech_wav() -> bytes:
    """About 100 s of varied speech (Piper reading the round-trip sentences), one WAV.

    Varied on purpose: a repeated sentence makes Whisper fall back through every
    temperature, which would measure the fallback rather than the hang-up.
    """
    lines = [line for line in ROUND_TRIP.read_text().splitlines() if not line.startswith("#")]
    return speech_wav(" ".join(lines))


def hang_up(server: LiveServer, request: httpx.Request, after: float) -> bytes:
    """Send ``request`` on a raw socket, read for ``after`` seconds, then close it."""
    host, port = server.url.removeprefix("http://").split(":")
    head = f"{request.method} {request.url.raw_path.decode()} HTTP/1.1\r\nHost: test\r\n"
    headers = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items() if k != "host")
    received = b""
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"{head}{headers}\r\n".encode() + request.read())
        sock.settimeout(0.1)
        deadline = time.monotonic() + after
        while time.monotonic() < deadline:
            try:
                received += sock.recv(65536)
            except TimeoutError:
                continue
    return received


def assert_stops(server: LiveServer, model: str, send: Callable[[], bytes]) -> bytes:
    """Run a request that is abandoned mid-work; its job must end within a few seconds."""
    cancelled = metric(server, "polyvox_jobs_cancelled_total", model)
    received = send()
    # one 30 s Whisper window takes about 2 s here: "within a few seconds" with a margin
    assert wait_for(lambda: inflight(server, model) == 0, timeout=6), "work went on"
    assert metric(server, "polyvox_jobs_cancelled_total", model) == cancelled + 1
    return received


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/tts", {"text": LONG_TEXT, "format": "wav"}),
        ("/synthesize", {"text": LONG_TEXT}),
        ("/v1/audio/speech", {"model": "tts-1", "input": LONG_TEXT, "response_format": "flac"}),
    ],
)
def test_speech_routes_stop_when_the_client_leaves(
    live_server: LiveServer, path: str, body: dict[str, object]
) -> None:
    # loaded first (the session's server may have unloaded it after its idle TTL): a client
    # that leaves while the model loads stops a job that never began, counted as no job
    warm = {"model": "tts-1", "input": "Warm.", "response_format": "pcm"}
    assert httpx.post(f"{live_server.url}/v1/audio/speech", json=warm).status_code == 200
    chunks = "polyvox_chunks_synthesized_total"
    before = metric(live_server, chunks, "piper")
    request = httpx.Request("POST", f"{live_server.url}{path}", json=body)
    assert_stops(live_server, "piper", lambda: hang_up(live_server, request, after=1.0))
    produced = metric(live_server, chunks, "piper") - before
    time.sleep(1.0)
    assert metric(live_server, chunks, "piper") - before == produced, "synthesis went on"
    assert produced < 20, f"{produced} of 40 chunks synthesised for a client that left"


@pytest.mark.parametrize("stream", [False, True])
def test_a_transcription_stops_when_the_client_leaves(
    live_server: LiveServer, stream: bool
) -> None:
    data = {"model": "whisper-1", "response_format": "json", "stream": str(stream).lower()}
    files = {"file": (f"{uuid.uuid4().hex}.wav", long_speech_wav(), "audio/wav")}
    request = httpx.Request(
        "POST", f"{live_server.url}/v1/audio/transcriptions", data=data, files=files
    )
    received = assert_stops(live_server, WHISPER, lambda: hang_up(live_server, request, 2.0))
    assert stream or not received, "a whole transcript of 100 s came back too soon"
    retry = httpx.post(
        f"{live_server.url}/v1/audio/transcriptions",
        files={"file": ("a.wav", speech_wav(SENTENCE), "audio/wav")},
        data={"model": "whisper-1"},
        timeout=60,
    )
    assert retry.status_code == 200
    assert "fox" in retry.json()["text"].lower()
