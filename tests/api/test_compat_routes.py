"""Routes of the replaced services, driven with the exact bodies from the seed documents."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_speech_errors import check_error
from tests.conftest import LiveServer
from tests.helpers import duration

# qwen-tts-streaming-service.md, "API Endpoints" and the curl examples
QWEN_STREAM_SEED = {
    "text": "Привет, мир!",
    "temperature": 0.7,
    "voice_attributes": {"gender": "female", "age": 25, "emotion": "happy"},
}
QWEN_FULL_SEED = {
    "text": "Привет, мир!",
    "format": "wav",
    "temperature": 0.7,
    "voice_attributes": {"gender": "male", "age": 30, "emotion": "neutral"},
}
QWEN_CURL_STREAM_SEED = {
    "text": "Привет, мир!",
    "voice_attributes": {"gender": "female", "age": 25, "emotion": "happy"},
}
QWEN_CURL_FULL_SEED = {
    "text": "Привет, мир!",
    "format": "wav",
    "voice_attributes": {"gender": "male", "age": 30, "emotion": "neutral"},
}


def post(server: LiveServer, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, timeout=60)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/stream-tts", QWEN_STREAM_SEED),
        ("/tts", QWEN_FULL_SEED),
        ("/stream-tts", QWEN_CURL_STREAM_SEED),
    ],
)
def test_qwen_seed_bodies_name_the_voice_attributes(
    live_server: LiveServer, path: str, body: dict[str, Any]
) -> None:
    response = post(live_server, path, body)
    check_error(response, 422, "voice_attributes")
    message = response.json()["error"]["message"]
    assert "piper" in message
    for attribute in body["voice_attributes"]:
        assert attribute in message


@pytest.mark.parametrize(
    ("path", "body"), [("/tts", QWEN_CURL_FULL_SEED), ("/stream-tts", QWEN_CURL_STREAM_SEED)]
)
def test_the_services_defaults_stay_off_a_model_without_them(
    live_server: LiveServer, path: str, body: dict[str, Any]
) -> None:
    """The curl examples send no temperature (nor max_length): the service's defaults (0.7,
    1000) apply only where the model takes them, and Piper takes neither. Piper has no voice
    attributes either, so they go."""
    plain = {k: v for k, v in body.items() if k != "voice_attributes"}
    response = post(live_server, path, plain)
    assert response.status_code == 200, response.text
    assert duration(response.content, "wav") > 0.3


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg"])
def test_qwen_tts_formats(live_server: LiveServer, fmt: str) -> None:
    response = post(live_server, "/tts", {"text": "Привет, мир! Hello world.", "format": fmt})
    assert response.status_code == 200, response.text
    media = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg"}[fmt]
    assert response.headers["content-type"] == media
    assert duration(response.content, "wav" if fmt == "wav" else fmt) > 0.5
    if fmt == "wav":  # a whole file: real sizes in the header
        assert int.from_bytes(response.content[40:44], "little") == len(response.content) - 44


def test_qwen_stream_tts(live_server: LiveServer) -> None:
    body = {"text": "Hello there. This is the streaming route of the Qwen service."}
    with httpx.stream("POST", f"{live_server.url}/stream-tts", json=body, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/wav"
        data = b"".join(response.iter_bytes())
    assert data[:4] == b"RIFF"
    assert duration(data, "wav") > 1.0


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/tts", {"text": "Hi.", "temperature": 0.7}, "temperature"),
        ("/tts", {"text": "Hi.", "temperature": 3.0}, "temperature"),
        ("/tts", {"text": "Hi.", "format": "flac"}, "format"),
        ("/tts", {"format": "wav"}, "text"),
        ("/tts", {"text": "Hi.", "voice_attributes": {"age": 0}}, "voice_attributes"),
        ("/tts", {"text": "Hi.", "voice_attributes": {"gender": "other"}}, "voice_attributes"),
        ("/stream-tts", {"tokens": [1, 2, 3]}, "tokens"),
        ("/stream-tts", {"text": "Hi.", "max_length": 1000}, "max_length"),
        ("/stream-tts", {"text": "Hi.", "max_length": 5000}, "max_length"),
        ("/stream-tts", {"temperature": 0.7}, "text"),
        ("/synthesize", {"text": "Hi.", "speaker": "nobody"}, "voice"),
        ("/synthesize", {"text": "Hi.", "top_k": 5}, "top_k"),
        ("/synthesize", {"voice": "alloy"}, "text"),
        ("/audio/speech", {"model": "tts-1", "input": "Hi.", "temperature": 0.7}, "temperature"),
    ],
)
def test_compat_errors(
    live_server: LiveServer, path: str, body: dict[str, Any], param: str
) -> None:
    response = post(live_server, path, body)
    status = 404 if param == "voice" else 422
    check_error(response, status, param)


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        ({"text": "Hello from the lean proxy."}, "wav"),
        ({"text": "Hello.", "speaker": "en_US-joe-medium", "format": "mp3"}, "mp3"),
        ({"text": "Hello.", "voice": "alloy", "model": "tts-1", "speed": 1.2}, "wav"),
    ],
)
def test_lean_synthesize(live_server: LiveServer, body: dict[str, Any], fmt: str) -> None:
    response = post(live_server, "/synthesize", body)
    assert response.status_code == 200, response.text
    assert duration(response.content, fmt) > 0.3


def test_lean_models(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/models", timeout=30)
    assert response.status_code == 200
    assert "piper" in [m["id"] for m in response.json()["data"]]


def test_lean_openai_speech(live_server: LiveServer) -> None:
    body = {"model": "tts-1", "input": "OpenAI format.", "voice": "alloy", "response_format": "wav"}
    response = post(live_server, "/audio/speech", body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    assert duration(response.content, "wav") > 0.3


def test_health(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.url}/health", timeout=10).json() == {"status": "ok"}
