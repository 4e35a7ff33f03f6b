"""The index-tts-vllm stand-in answers as api_server_v2.py / api_server.py do at 5f9d024."""

from __future__ import annotations

import io
import time
import wave

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.standins.indextts_vllm import (
    DEFAULT_SPEAKERS,
    EMO_SUM_ERROR,
    NOT_WAV,
    create_app,
    serving,
)

SPK = "examples/voice_01.wav"


def read_wav(data: bytes) -> tuple[int, int, int, int]:
    """(channels, sample width, rate, frames)"""
    with wave.open(io.BytesIO(data)) as w:
        return w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()


@pytest.fixture
def v2() -> TestClient:
    with TestClient(create_app(known_paths={SPK, "examples/emo_sad.wav"})) as client:
        yield client


@pytest.fixture
def v1() -> TestClient:
    with TestClient(create_app(version="v1", speakers=DEFAULT_SPEAKERS)) as client:
        yield client


def assert_traceback(response: httpx.Response, last_line: str) -> None:
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"status", "error"}
    assert body["status"] == "error"
    assert body["error"].startswith("Traceback (most recent call last):")
    assert body["error"].rstrip().splitlines()[-1] == last_line


def test_health_is_503_until_ready() -> None:
    with TestClient(create_app(not_ready_for=60)) as client:
        st = client.app.state.standin
        response = client.get("/health")
        assert response.status_code == 503
        assert response.json() == {"status": "unhealthy", "message": "TTS model not initialized"}
        tts = client.post("/tts_url", json={"text": "hi", "spk_audio_path": SPK})
        assert_traceback(tts, "AttributeError: 'NoneType' object has no attribute 'infer'")
        st.set_ready()
        body = client.get("/health").json()
        assert body["status"] == "healthy"
        assert body["message"] == "Service is running"
        assert abs(body["timestamp"] - time.time()) < 60


def test_tts_url_returns_wav_at_22050(v2: TestClient) -> None:
    short = v2.post("/tts_url", json={"text": "Hello.", "spk_audio_path": SPK})
    assert short.status_code == 200
    assert short.headers["content-type"] == "audio/wav"
    channels, width, rate, frames = read_wav(short.content)
    assert (channels, width, rate) == (1, 2, 22050)
    longer = v2.post("/tts_url", json={"text": "Hello there, world.", "spk_audio_path": SPK})
    assert read_wav(longer.content)[3] > frames > 0
    assert v2.app.state.standin.bodies("/tts_url")[0] == {"text": "Hello.", "spk_audio_path": SPK}


def test_v2_validation_is_500_with_a_traceback(v2: TestClient) -> None:
    assert_traceback(v2.post("/tts_url", json={"text": "hi"}), "KeyError: 'spk_audio_path'")
    assert_traceback(v2.post("/tts_url", json={"spk_audio_path": SPK}), "KeyError: 'text'")
    assert v2.post("/tts_url", content=b"not json").status_code == 500
    missing = v2.post("/tts_url", json={"text": "hi", "spk_audio_path": "nope.wav"})
    assert "FileNotFoundError" in missing.json()["error"]
    method = v2.post(
        "/tts_url", json={"text": "hi", "spk_audio_path": SPK, "emo_control_method": "1"}
    )
    assert "AttributeError" in method.json()["error"]
    too_much = {"text": "hi", "spk_audio_path": SPK, "emo_control_method": 2, "emo_vec": [1, 1]}
    response = v2.post("/tts_url", json=too_much)
    assert response.status_code == 500
    assert response.json() == {"status": "error", "error": EMO_SUM_ERROR}
    emo = {"text": "hi", "spk_audio_path": SPK, "emo_control_method": 1, "emo_ref_path": "x.wav"}
    assert v2.post("/tts_url", json=emo).status_code == 500
    emo["emo_ref_path"] = "examples/emo_sad.wav"
    assert v2.post("/tts_url", json=emo).status_code == 200
    assert v2.post("/audio/speech", json={"input": "hi"}).status_code == 404


def test_v1_openai_route_and_voices(v1: TestClient) -> None:
    assert v1.get("/audio/voices").json() == DEFAULT_SPEAKERS
    body = {"model": "tts-1", "input": "Hello.", "voice": "jay_klee", "response_format": "mp3"}
    response = v1.post("/audio/speech", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"  # response_format is ignored
    assert read_wav(response.content)[:3] == (1, 2, 24000)
    assert_traceback(
        v1.post("/audio/speech", json={"input": "Hello.", "voice": "jay_klee"}), "KeyError: 'model'"
    )
    assert_traceback(
        v1.post("/audio/speech", json={"model": "m", "input": "x", "voice": "alloy"}),
        "KeyError: 'alloy'",
    )
    assert v1.post("/tts", json={"text": "x", "character": "jay_klee"}).status_code == 200
    assert v1.post("/tts_url", json={"text": "x", "audio_paths": [SPK]}).status_code == 200
    with TestClient(create_app(version="v1")) as bare:
        assert bare.get("/audio/voices").json() == []


def test_faults(v2: TestClient) -> None:
    st = v2.app.state.standin
    ok = {"text": "Hello.", "spk_audio_path": SPK}
    st.faults.sample_rate = 16000
    assert read_wav(v2.post("/tts_url", json=ok).content)[2] == 16000
    st.faults.sample_rate = None
    st.faults.malformed = True
    assert v2.post("/tts_url", json=ok).content == NOT_WAV
    st.faults.malformed = False
    st.faults.truncate = "wav"
    cut = v2.post("/tts_url", json=ok)
    assert cut.status_code == 200
    with wave.open(io.BytesIO(cut.content)) as w:  # the header promises more than there is
        assert len(w.readframes(w.getnframes())) < 2 * w.getnframes()
    st.faults.truncate = None
    st.faults.error_500 = True
    assert "out of memory" in v2.post("/tts_url", json=ok).json()["error"]
    st.faults.error_500 = False
    st.faults.delay = 0.3
    start = time.monotonic()
    assert v2.post("/tts_url", json=ok).status_code == 200
    assert time.monotonic() - start >= 0.3


def test_dropped_connection_and_load_delay_over_real_http() -> None:
    app = create_app(load_delay=0.5)
    with serving(app, wait=False) as url:
        with pytest.raises(httpx.ConnectError):  # the real server binds only once loaded
            httpx.get(f"{url}/health", timeout=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.ConnectError:
                time.sleep(0.05)
        app.state.standin.faults.truncate = "connection"
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(f"{url}/tts_url", json={"text": "Hello.", "spk_audio_path": SPK})
