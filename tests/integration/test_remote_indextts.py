"""The ``indextts-vllm`` kind against the index-tts-vllm stand-in (v2 and v1): what is sent,
what comes back, what is refused before sending, and every fault as a 502/503 naming the
model without the server's traceback."""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from polyvox.settings import ModelConfig, Settings
from tests.conftest import LiveServer, free_port, start_server
from tests.standins.indextts_vllm import DEFAULT_SPEAKERS, Faults, StandIn, create_app, serving

pytestmark = pytest.mark.integration
SPK, EMO = "examples/voice_01.wav", "examples/emo_sad.wav"
VOICES = {"narrator": SPK, "sad": EMO, "ghost": "examples/missing.wav"}


@pytest.fixture(scope="module")
def v2() -> Iterator[FastAPI]:
    with serving(app := create_app(known_paths={SPK, EMO})) as url:
        app.state.url = url
        yield app


@pytest.fixture(scope="module")
def v1() -> Iterator[FastAPI]:
    with serving(app := create_app(version="v1", speakers=DEFAULT_SPEAKERS)) as url:
        app.state.url = url
        yield app


@pytest.fixture(scope="module")
def loading_port() -> int:
    return free_port()  # nothing listens here until a test starts a "loading" server on it


@pytest.fixture(scope="module")
def gateway(v2: FastAPI, v1: FastAPI, loading_port: int) -> Iterator[LiveServer]:
    later = f"http://127.0.0.1:{loading_port}"
    models = {
        "itts": ModelConfig(
            engine="indextts-vllm", url=v2.state.url, voices=VOICES, read_timeout=2,
            discovery_attempts=1,
        ),
        "itts1": ModelConfig(engine="indextts-vllm", url=v1.state.url, api="v1"),
        "itts1-cfg": ModelConfig(
            engine="indextts-vllm", url=v1.state.url, api="v1",
            voices={"klee": "jay_klee", "nobody": "nobody"},
        ),
        "later": ModelConfig(
            engine="indextts-vllm", url=later, voices=VOICES, discovery_attempts=7,
            connect_timeout=1,
        ),
        "never": ModelConfig(
            engine="indextts-vllm", url=f"http://127.0.0.1:{free_port()}", voices=VOICES,
            discovery_attempts=2, connect_timeout=1,
        ),
    }  # fmt: skip
    yield from start_server(Settings(models=models, preload=[]))


@pytest.fixture(autouse=True)
def no_faults(v2: FastAPI) -> Iterator[StandIn]:
    standin: StandIn = v2.state.standin
    standin.faults = Faults()
    yield standin
    standin.faults = Faults()


def speak(gateway: LiveServer, text: str = "Hello there.", **extra: Any) -> httpx.Response:
    body = {"model": "itts", "input": text, "voice": "narrator", "response_format": "wav"}
    return httpx.post(f"{gateway.url}/v1/audio/speech", json={**body, **extra}, timeout=60)


def rate_and_seconds(data: bytes) -> tuple[int, float]:
    with wave.open(io.BytesIO(data)) as f:  # streamed: the header's sizes are unknown
        return f.getframerate(), len(f.readframes(f.getnframes())) / 2 / f.getframerate()


def test_v2_sends_the_text_the_voices_path_and_the_emotion_fields(
    gateway: LiveServer, no_faults: StandIn
) -> None:
    r = speak(gateway)
    assert r.status_code == 200, r.text
    assert no_faults.bodies("/tts_url")[-1] == {
        "text": "Hello there.", "spk_audio_path": SPK, "emo_control_method": 0,
    }  # fmt: skip
    r = speak(gateway, emo_control_method=1, emo_voice="sad", emo_weight=0.6)
    assert r.status_code == 200, r.text
    assert no_faults.bodies("/tts_url")[-1] == {
        "text": "Hello there.", "spk_audio_path": SPK, "emo_control_method": 1,
        "emo_ref_path": EMO, "emo_weight": 0.6,
    }  # fmt: skip
    r = speak(gateway, emo_control_method=2, emo_vec="0.5,0,0,0,0,0,0,0.5", emo_random=True)
    assert r.status_code == 200, r.text
    sent = no_faults.bodies("/tts_url")[-1]
    assert sent["emo_vec"] == [0.5, 0, 0, 0, 0, 0, 0, 0.5]
    assert sent["emo_random"] is True
    r = speak(
        gateway, emo_control_method=3, emo_text="quietly sad", max_text_tokens_per_sentence=80
    )
    assert r.status_code == 200, r.text
    assert no_faults.bodies("/tts_url")[-1] == {
        "text": "Hello there.", "spk_audio_path": SPK, "emo_control_method": 3,
        "emo_text": "quietly sad", "max_text_tokens_per_sentence": 80,
    }  # fmt: skip


def test_v2_audio_arrives_at_22050(gateway: LiveServer) -> None:
    short, longer = speak(gateway, "Hi."), speak(gateway, "Hello there, how are you today?")
    assert short.status_code == longer.status_code == 200
    (rate, a), (_, b) = rate_and_seconds(short.content), rate_and_seconds(longer.content)
    assert rate == 22050
    assert b > a > 0
    card = httpx.get(f"{gateway.url}/v1/models/itts").json()
    assert card["capabilities"]["sample_rate"] == 22050
    assert card["capabilities"]["device"] == "remote"  # that server does not say
    assert card["capabilities"]["placement"] == "remote"
    assert set(card["capabilities"]["params"]) >= {"emo_control_method", "emo_text"}


def test_v1_speaks_its_discovered_or_configured_speakers_at_24000(
    gateway: LiveServer, v1: FastAPI
) -> None:
    voices = httpx.get(f"{gateway.url}/v1/audio/voices", params={"model": "itts1"}).json()
    assert [v["id"] for v in voices["data"]] == ["jay_klee"]
    r = speak(gateway, model="itts1", voice="jay_klee")
    assert r.status_code == 200, r.text
    assert rate_and_seconds(r.content)[0] == 24000
    sent = v1.state.standin.bodies("/audio/speech")[-1]
    assert sent == {"model": "itts1", "input": "Hello there.", "voice": "jay_klee"}
    r = speak(gateway, model="itts1-cfg", voice="klee")
    assert r.status_code == 200, r.text
    assert v1.state.standin.bodies("/audio/speech")[-1]["voice"] == "jay_klee"
    unknown = speak(gateway, model="itts1-cfg", voice="nobody")  # KeyError upstream
    assert unknown.status_code == 502
    assert "not one of its speakers" in unknown.json()["error"]["message"]
    assert "Traceback" not in unknown.json()["error"]["message"]
    refused = speak(gateway, model="itts1", voice="jay_klee", emo_control_method=1)
    assert refused.status_code == 422  # v1 has no emotion controls


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"emo_control_method": 4}, "emo_control_method"),
        ({"emo_control_method": "1"}, "emo_control_method"),  # the server: AttributeError
        ({"emo_control_method": 1.0}, "emo_control_method"),
        ({"emo_control_method": 1, "emo_weight": 1.7}, "emo_weight"),
        ({"emo_control_method": 1, "emo_voice": "nobody"}, "emo_voice"),
        ({"emo_text": "angry"}, "emo_text"),  # method 0: emo_text would be ignored
        ({"emo_control_method": 3, "emo_weight": 0.5}, "emo_weight"),
        ({"emo_control_method": 2, "emo_vec": "1,1,0,0,0,0,0,0"}, "emo_vec"),  # sum > 1.5
        ({"emo_control_method": 2, "emo_vec": "0.1,0.1"}, "emo_vec"),
        ({"emo_control_method": 2, "emo_vec": "a,b,c,d,e,f,g,h"}, "emo_vec"),
        ({"emo_random": True}, "emo_random"),
        ({"max_text_tokens_per_sentence": 10}, "max_text_tokens_per_sentence"),
        ({"max_text_tokens_per_sentence": "120"}, "max_text_tokens_per_sentence"),
        ({"seed": 8}, "seed"),
        ({"speed": 1.5}, "speed"),
    ],
)
def test_bad_parameters_are_a_422_before_anything_is_sent(
    gateway: LiveServer, no_faults: StandIn, params: dict[str, Any], param: str
) -> None:
    before = len(no_faults.requests)
    r = speak(gateway, **params)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["param"] == param
    assert len(no_faults.requests) == before


@pytest.mark.parametrize(
    ("faults", "status", "words"),
    [
        ({"delay": 3.0}, 503, "stopped answering"),  # read_timeout is 2 s
        ({"truncate": "wav"}, 502, "cut short"),
        ({"truncate": "connection"}, 502, "broke off"),
        ({"sample_rate": 16000}, 502, "16000 Hz"),
        ({"malformed": True}, 502, "not a WAV"),
        ({"error_500": True}, 502, "RuntimeError"),
    ],
)
def test_each_fault_is_an_error_naming_the_model_without_a_traceback(
    gateway: LiveServer, no_faults: StandIn, faults: dict[str, Any], status: int, words: str
) -> None:
    no_faults.faults = Faults(**faults)
    r = speak(gateway)
    assert r.status_code == status, r.text
    message = r.json()["error"]["message"]
    assert "'itts'" in message
    assert words in message
    for leak in ("Traceback", 'File "', "CUDA", "standins"):
        assert leak not in message
    no_faults.faults = Faults()
    assert speak(gateway).status_code == 200  # and the next request is fine


def test_a_missing_reference_file_is_a_502_naming_the_voice(gateway: LiveServer) -> None:
    r = speak(gateway, voice="ghost")
    assert r.status_code == 502
    message = r.json()["error"]["message"]
    assert "'itts'" in message
    assert "'ghost'" in message
    assert "Traceback" not in message
    assert "missing.wav" not in message


def test_a_server_still_loading_becomes_ready_through_the_retries(
    gateway: LiveServer, loading_port: int
) -> None:
    app = create_app(known_paths={SPK}, load_delay=1.0, not_ready_for=2.0)
    with serving(app, port=loading_port, wait=False):  # refuses connections, then /health 503
        started = time.monotonic()
        r = speak(gateway, model="later")
        assert r.status_code == 200, r.text
        assert time.monotonic() - started >= 3.0
        health = [x for x in app.state.standin.requests if x.path == "/health"]
        assert len(health) >= 2  # at least one 503 before the 200
        assert rate_and_seconds(r.content)[0] == 22050


def test_a_server_that_never_comes_is_a_503_naming_the_model(gateway: LiveServer) -> None:
    r = speak(gateway, model="never")
    assert r.status_code == 503
    assert "'never'" in r.json()["error"]["message"]
    assert speak(gateway).status_code == 200  # the others keep serving
