"""Bad uploads and options get a 4xx OpenAI-shaped error, never a 500; limits are enforced."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from polyvox.settings import Settings
from tests.api.test_speech_errors import check_error
from tests.conftest import LiveServer, start_server
from tests.stt_audio import normalise, speech_file, speech_wav

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
OK = {"model": "whisper-1"}
BAD_FILES: dict[str, tuple[bytes, int]] = {
    "empty": (b"", 415),
    "text file": (b"This is a plain text file, not audio.\n" * 20, 415),
    "corrupt wav": (b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256)) * 4, 415),
    "random bytes": (bytes((i * 7919) % 256 for i in range(20_000)), 415),
    "png image": (PNG, 415),
}
BAD_FIELDS: dict[str, tuple[dict[str, Any], int, str | None]] = {
    "missing model": ({}, 422, "model"),
    "unknown model": ({"model": "nope"}, 404, "model"),
    "tts model": ({"model": "piper"}, 422, "model"),
    "bad format": ({**OK, "response_format": "docx"}, 422, "response_format"),
    "granularity without verbose": (
        {**OK, "timestamp_granularities[]": "word"}, 422, "timestamp_granularities"
    ),
    "bad granularity": (
        {**OK, "response_format": "verbose_json", "timestamp_granularities[]": "line"},
        422, "timestamp_granularities[]",
    ),
    "stream with srt": ({**OK, "stream": "true", "response_format": "srt"}, 422, "stream"),
    "temperature too high": ({**OK, "temperature": "1.5"}, 422, "temperature"),
    "temperature not a number": ({**OK, "temperature": "warm"}, 422, "temperature"),
    "unknown language": ({**OK, "language": "fr"}, 422, "language"),
    "unknown parameter": ({**OK, "speed": "2"}, 422, "speed"),
    "parameter out of range": ({**OK, "beam_size": "99"}, 422, "beam_size"),
    "parameter wrong type": ({**OK, "vad_filter": "maybe"}, 422, "vad_filter"),
}  # fmt: skip


def post(url: str, data: dict[str, Any], file: bytes | None, path: str = "transcriptions") -> Any:
    files = {"file": ("upload.wav", file)} if file is not None else None
    return httpx.post(f"{url}/v1/audio/{path}", data=data, files=files, timeout=60)


@pytest.mark.parametrize("case", BAD_FILES)
@pytest.mark.parametrize("path", ["transcriptions", "translations"])
def test_bad_file(live_server: LiveServer, case: str, path: str) -> None:
    content, status = BAD_FILES[case]
    settings = live_server.state.settings
    if path == "translations" and not settings.model_options("whisper").get("multilingual"):
        status = 422  # the English-only model is refused before the file is decoded
    check_error(post(live_server.url, OK, content, path), status, "file" if status == 415 else None)


def test_missing_file(live_server: LiveServer) -> None:
    check_error(post(live_server.url, OK, None), 422, "file")


@pytest.mark.parametrize("case", BAD_FIELDS)
def test_bad_field(live_server: LiveServer, case: str) -> None:
    data, status, param = BAD_FIELDS[case]
    response = post(live_server.url, data, speech_wav("Short."))
    check_error(response, status, param)


def test_openai_client_sees_typed_errors(live_server: LiveServer) -> None:
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        client.audio.transcriptions.create(file=("x.txt", b"not audio"), model="whisper-1")
    assert info.value.status_code == 415
    assert "decode" in info.value.message
    with pytest.raises(openai.NotFoundError):
        client.audio.transcriptions.create(file=("a.wav", speech_wav("Hi.")), model="nope")


def test_server_keeps_serving(live_server: LiveServer) -> None:
    for content, _ in BAD_FILES.values():
        post(live_server.url, OK, content)
    response = post(live_server.url, {**OK, "response_format": "text"}, speech_wav())
    assert response.status_code == 200
    assert "fox" in normalise(response.text)


@pytest.fixture(scope="module")
def limited_server() -> Iterator[LiveServer]:
    """Small limits, and tiny.en declared multilingual so the translation path can run."""
    settings = Settings(
        max_upload_bytes=300_000, max_audio_seconds=8.0,
        whisper={"multilingual": True},
    )  # fmt: skip
    yield from start_server(settings)


def test_upload_over_the_size_limit(limited_server: LiveServer) -> None:
    big = speech_wav("Hello. " * 40)
    assert len(big) > 300_000
    response = post(limited_server.url, OK, big)
    check_error(response, 413, "file")
    assert "300000" in response.json()["error"]["message"]


def test_chunked_upload_over_the_size_limit(limited_server: LiveServer) -> None:
    big = speech_wav("Hello. " * 40)
    body = httpx.Request(
        "POST", "http://x", files={"file": ("a.wav", big)}, data=OK
    ).read()  # a multipart body, sent without a Content-Length below

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    boundary = body.split(b"\r\n", 1)[0][2:].decode()
    response = httpx.post(
        f"{limited_server.url}/v1/audio/transcriptions", content=chunks(), timeout=60,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )  # fmt: skip
    check_error(response, 413, "file")


def test_audio_over_the_duration_limit(limited_server: LiveServer) -> None:
    long = speech_file("mp3", "Hello there, this sentence is long. " * 5)  # small, but long
    response = post(limited_server.url, OK, long)
    check_error(response, 413, "file")
    assert "8 seconds" in response.json()["error"]["message"]
    ok = post(limited_server.url, {**OK, "response_format": "text"}, speech_wav("Hello there."))
    assert ok.status_code == 200


def test_translation_route_with_a_multilingual_model(limited_server: LiveServer) -> None:
    client = openai.OpenAI(base_url=f"{limited_server.url}/v1", api_key="x", max_retries=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        result = client.audio.translations.create(
            file=("a.wav", speech_wav()), model="whisper-1", response_format="verbose_json"
        )
    assert result.task == "translate"  # type: ignore[attr-defined]
    assert "fox" in normalise(result.text)
