"""The ``openai`` kind: a gateway in front of a real polyvox process used as a plain
OpenAI-compatible server (pcm and wav, voices configured and discovered), and in front of
small Kokoro-FastAPI-shaped and voice-list-less stand-ins."""

from __future__ import annotations

import asyncio
import io
import socket
import wave
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from polyvox.settings import OPENAI_VOICES, ModelConfig, Settings
from tests.conftest import LiveServer, start_server
from tests.helpers import sse_events
from tests.integration.test_remote_polyvox import worker_metric
from tests.integration.test_streaming import wait_for
from tests.processes import spawn_server, stop
from tests.standins.indextts_vllm import serving, wav_bytes

pytestmark = pytest.mark.integration
TEXT = "The gateway passes every sample on. Nothing is lost on the way."
LENGTH_TOLERANCE = 0.15  # Piper's noise varies durations; params other than speed stay here


@pytest.fixture(scope="module")
def worker() -> Iterator[str]:
    proc, url = spawn_server()
    try:
        yield url
    finally:
        stop(proc)


def worker_voices(worker: str) -> list[str]:
    data = httpx.get(f"{worker}/v1/audio/voices", params={"model": "piper"}).json()["data"]
    return [v["id"] for v in data]


def kokoroish(received: list[dict[str, Any]]) -> FastAPI:
    """Kokoro-FastAPI's shapes: ``{"voices": [names]}``; streamed 24 kHz WAV, some broken."""
    app = FastAPI()

    @app.get("/v1/audio/voices")
    async def voices() -> dict[str, object]:
        return {"voices": ["af_bella", "am_adam", "not_wav", "stereo", "cut"]}

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Response:
        body = await request.json()
        received.append(body)
        tone = (3000 * np.sin(np.arange(12000) / 5)).astype(np.int16)
        data = wav_bytes(tone, 24000)
        if body["voice"] == "not_wav":
            data = b"<html>502 Bad Gateway</html>"
        if body["voice"] == "stereo":
            data = data[:22] + b"\x02\x00" + data[24:]
        if body["voice"] == "cut":
            data = data[:-1000]  # the header says more than arrives

        async def parts() -> AsyncIterator[bytes]:
            for start in range(0, len(data), 7):  # headers and samples split anywhere
                yield data[start : start + 7]
                await asyncio.sleep(0)

        return StreamingResponse(parts(), media_type="audio/wav")

    return app


@pytest.fixture(scope="module")
def received() -> list[dict[str, Any]]:
    return []


@pytest.fixture(scope="module")
def gateway(worker: str, received: list[dict[str, Any]]) -> Iterator[LiveServer]:
    voices = worker_voices(worker)
    with serving(kokoroish(received)) as kokoro, serving(FastAPI()) as bare:
        models = {
            "pcm": ModelConfig(engine="openai", url=worker, model="piper"),
            "wav": ModelConfig(
                engine="openai", url=worker, model="piper", format="wav", sample_rate=22050,
                voices=[*voices, "nobody"],
            ),
            "wav24": ModelConfig(engine="openai", url=worker, model="piper", format="wav"),
            "nospeed": ModelConfig(engine="openai", url=worker, model="piper", speed=False),
            "kokoro": ModelConfig(
                engine="openai", url=kokoro, model="kokoro", format="wav", discovery_attempts=1
            ),
            "bare": ModelConfig(engine="openai", url=bare, model="tts-1", discovery_attempts=1),
        }  # fmt: skip
        # long first pieces are possible (the hang-up test needs a long upstream request)
        settings = Settings(
            models=models, preload=[], chunk_max_chars=2000, first_chunk_max_words=100
        )
        yield from start_server(settings)


def speak(url: str, model: str, text: str = TEXT, **extra: object) -> httpx.Response:
    body = {"model": model, "input": text, "response_format": "wav", **extra}
    return httpx.post(f"{url}/v1/audio/speech", json=body, timeout=120)


def read(wav: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(wav)) as f:
        data = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.int32)
        return f.getframerate(), data


def voice_ids(gateway: LiveServer, model: str) -> list[str]:
    r = httpx.get(f"{gateway.url}/v1/audio/voices", params={"model": model}, timeout=30)
    assert r.status_code == 200, r.text
    assert {v["model"] for v in r.json()["data"]} == {model}
    return [v["id"] for v in r.json()["data"]]


def test_voices_are_configured_or_discovered(gateway: LiveServer, worker: str) -> None:
    piper = worker_voices(worker)
    assert voice_ids(gateway, "pcm") == piper  # polyvox's {"data": [{"id": ...}]}
    assert voice_ids(gateway, "wav") == [*piper, "nobody"]  # as configured, not asked
    assert voice_ids(gateway, "kokoro")[:2] == ["af_bella", "am_adam"]  # {"voices": [...]}
    assert voice_ids(gateway, "bare") == list(OPENAI_VOICES)  # no /v1/audio/voices at all
    card = httpx.get(f"{gateway.url}/v1/models/pcm").json()
    assert card["capabilities"]["device"] == "remote"  # that server does not say
    assert card["capabilities"]["placement"] == "remote"
    assert card["capabilities"]["engine"] == "openai"
    assert card["capabilities"]["sample_rate"] == 24000


def test_wav_upstream_gives_the_workers_audio(gateway: LiveServer, worker: str) -> None:
    through, direct = speak(gateway.url, "wav"), speak(worker, "piper")
    assert through.status_code == direct.status_code == 200, through.text
    (rate, a), (direct_rate, b) = read(through.content), read(direct.content)
    assert rate == direct_rate == 22050
    assert abs(len(a) - len(b)) <= LENGTH_TOLERANCE * len(b)
    assert np.abs(a).max() > 1000


@pytest.mark.parametrize("model", ["pcm", "wav24"])
def test_audio_at_24khz_from_pcm_or_resampled_wav(
    gateway: LiveServer, worker: str, model: str
) -> None:
    through = speak(gateway.url, model)
    assert through.status_code == 200, through.text
    rate, a = read(through.content)
    assert rate == 24000
    _, b = read(speak(worker, "piper", sample_rate=24000).content)
    assert abs(len(a) - len(b)) <= LENGTH_TOLERANCE * len(b)
    assert np.abs(a).max() > 1000


def test_speed_is_passed_on_or_refused(gateway: LiveServer, worker: str) -> None:
    _, normal = read(speak(gateway.url, "pcm").content)
    fast = speak(gateway.url, "pcm", speed=2.0)
    assert fast.status_code == 200
    assert len(read(fast.content)[1]) < 0.7 * len(normal)
    refused = speak(gateway.url, "nospeed", speed=2.0)
    assert refused.status_code == 422
    assert refused.json()["error"]["param"] == "speed"


def test_an_upstream_4xx_arrives_with_its_status(gateway: LiveServer) -> None:
    r = speak(gateway.url, "wav", voice="nobody")  # configured here, unknown upstream
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "voice_not_found"
    assert r.json()["error"]["param"] == "voice"


def test_a_streamed_wav_is_read_in_any_pieces_and_sent_phrase_by_phrase(
    gateway: LiveServer, received: list[dict[str, Any]]
) -> None:
    received.clear()
    text = "First a short phrase, then the rest of a longer text. " * 3
    r = speak(gateway.url, "kokoro", text, voice="am_adam")
    assert r.status_code == 200, r.text
    rate, samples = read(r.content)
    assert rate == 24000
    assert len(samples) == 12000 * len(received)
    assert received[0] == {
        "model": "kokoro", "input": received[0]["input"], "voice": "am_adam",
        "response_format": "wav",
    }  # fmt: skip
    assert len(received) > 1
    assert len(received[0]["input"]) < len(text) / 2  # the first audio waits for a phrase


@pytest.mark.parametrize(("voice", "words"), [("not_wav", "not a WAV"), ("stereo", "2 channels")])
def test_an_unusable_wav_is_a_502_naming_the_model(
    gateway: LiveServer, voice: str, words: str
) -> None:
    r = speak(gateway.url, "kokoro", "Hello.", voice=voice)
    assert r.status_code == 502, r.text
    assert "'kokoro'" in r.json()["error"]["message"]
    assert words in r.json()["error"]["message"]


def test_a_wav_cut_short_ends_the_stream_with_an_error(gateway: LiveServer) -> None:
    body = {"model": "kokoro", "input": "Hello.", "voice": "cut", "response_format": "pcm"}
    with pytest.raises(httpx.RemoteProtocolError):  # audio had started: the body is cut
        httpx.post(f"{gateway.url}/v1/audio/speech", json=body, timeout=30)
    r = httpx.post(
        f"{gateway.url}/v1/audio/speech", json={**body, "stream_format": "sse"}, timeout=30
    )
    events = sse_events(r.text.splitlines())
    assert events[0]["type"] == "speech.audio.delta"
    assert events[-1]["type"] == "error"
    assert "cut short" in str(events[-1]["error"])
    assert "'kokoro'" in str(events[-1]["error"])


def test_a_client_that_hangs_up_closes_the_upstream_request(
    gateway: LiveServer, worker: str
) -> None:
    # One long sentence goes up whole as the first piece (see the gateway's settings); the
    # worker speaks it clause by clause, so its request is still running when the client
    # leaves after the first audio.
    clause = "the gateway streams this long sentence, which has a pause now and then,"
    text = " ".join([clause] * 7) + " and ends here."
    cancelled = worker_metric(worker, "polyvox_jobs_cancelled_total")
    body = httpx.Request("POST", "/", json={"model": "pcm", "input": text}).read()
    head = (
        "POST /v1/audio/speech HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode() + body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    stopped = wait_for(
        lambda: worker_metric(worker, "polyvox_jobs_cancelled_total") > cancelled, timeout=10
    )
    assert stopped, "the upstream request went on after the client left"
    assert wait_for(lambda: worker_metric(worker, "polyvox_inflight_jobs") == 0, timeout=10)
