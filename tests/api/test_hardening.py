"""Attacks from the hardening review, replayed: each gets a clear 4xx and leaks nothing."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from polyvox.settings import Settings
from tests.conftest import LiveServer, start_server
from tests.processes import spawn_server
from tests.stt_audio import speech_wav

KEY = "hardening-key"
LEAKS = ("onnxruntime", "Traceback", "/site-packages/", '.py"', "RuntimeError")


@pytest.fixture(scope="module")
def keyed() -> Iterator[LiveServer]:
    yield from start_server(Settings(api_keys=[KEY], max_body_bytes=4096))  # type: ignore[list-item]


def raw_json(**fields: object) -> bytes:
    """JSON as Python writes it: NaN and Infinity pass through as bare literals."""
    return json.dumps(fields).encode()


def assert_refused(response: httpx.Response, status: int, param: str | None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    assert not any(leak in error["message"] for leak in LEAKS), error["message"]


def still_serving(server: LiveServer, headers: dict[str, str] | None = None) -> None:
    body = {"model": "tts-1", "input": "Still here.", "response_format": "wav"}
    response = httpx.post(f"{server.url}/v1/audio/speech", json=body, headers=headers, timeout=60)
    assert response.status_code == 200
    assert response.content[:4] == b"RIFF"


SPEECH = {"model": "tts-1", "input": "Hello there."}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    ("route", "body", "param"),
    [
        ("/v1/audio/speech", {**SPEECH, "noise_w_scale": None}, "noise_w_scale"),
        ("/v1/audio/speech", {**SPEECH, "sentence_silence": None}, "sentence_silence"),
        ("/v1/audio/speech", {**SPEECH, "volume": None}, "volume"),
        ("/v1/audio/speech", {**SPEECH, "noise_scale": None}, "noise_scale"),
        ("/v1/audio/speech", {**SPEECH, "speed": None}, "speed"),
        ("/synthesize", {"text": "Hello there.", "noise_scale": None}, "noise_scale"),
        ("/synthesize", {"text": "Hello there.", "speed": None}, "speed"),
        ("/tts", {"text": "Hello there.", "temperature": None}, "temperature"),
        ("/stream-tts", {"text": "Hello there.", "temperature": None}, "temperature"),
    ],
)
def test_non_finite_numbers_are_refused_in_json(
    live_server: LiveServer, route: str, body: dict[str, object], param: str, value: float
) -> None:
    filled = {k: value if v is None else v for k, v in body.items()}
    response = httpx.post(
        f"{live_server.url}{route}", content=raw_json(**filled),
        headers={"Content-Type": "application/json"}, timeout=60,
    )  # fmt: skip
    assert_refused(response, 422, param)


@pytest.mark.parametrize("field", ["no_speech_threshold", "temperature"])
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused_in_multipart(
    live_server: LiveServer, field: str, value: str
) -> None:
    response = httpx.post(
        f"{live_server.url}/v1/audio/transcriptions",
        files={"file": ("a.wav", speech_wav("Hello."), "audio/wav")},
        data={"model": "whisper-1", field: value}, timeout=60,
    )  # fmt: skip
    assert_refused(response, 422, field)


def test_the_server_serves_after_the_attacks(live_server: LiveServer) -> None:
    still_serving(live_server)


def test_only_the_standard_key_schemes_are_accepted(keyed: LiveServer) -> None:
    url = f"{keyed.url}/v1/models"
    assert httpx.get(url, headers={"Authorization": KEY}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Basic {KEY}"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"bearer {KEY}"}).status_code == 200
    assert httpx.get(url, headers={"X-API-Key": KEY}).status_code == 200
    assert httpx.get(url, headers={"X-API-Key": "wrong"}).status_code == 401


def test_a_chunked_body_over_the_limit_is_413(keyed: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must count as it reads
        yield b'{"model": "tts-1", "input": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = httpx.post(f"{keyed.url}/v1/audio/speech", content=chunks(), headers=headers)
    assert_refused(response, 413, None)
    assert response.json()["error"]["code"] == "request_too_large"
    still_serving(keyed, {"Authorization": f"Bearer {KEY}"})


def test_a_chunked_upload_over_the_limit_is_413() -> None:
    for server in start_server(Settings(max_upload_bytes=10_000)):
        wav = speech_wav("A file larger than ten kilobytes, sent without a length.")
        request = httpx.Request(
            "POST", f"{server.url}/v1/audio/transcriptions",
            files={"file": ("a.wav", wav, "audio/wav")}, data={"model": "whisper-1"},
        )  # fmt: skip
        body = request.read()
        headers = {"Content-Type": request.headers["Content-Type"]}

        def chunks(data: bytes = body) -> Iterator[bytes]:
            yield from (data[i : i + 4096] for i in range(0, len(data), 4096))

        response = httpx.post(request.url, content=chunks(), headers=headers, timeout=60)
        assert_refused(response, 413, "file")


def test_two_files_in_one_upload_are_refused(live_server: LiveServer) -> None:
    wav = speech_wav("Hello.")
    files = [("file", ("a.wav", wav, "audio/wav")), ("file", ("b.wav", wav, "audio/wav"))]
    for route in ("transcriptions", "translations"):
        response = httpx.post(
            f"{live_server.url}/v1/audio/{route}", files=files, data={"model": "whisper-1"}
        )
        assert_refused(response, 422, "file")
        assert "one audio file" in response.json()["error"]["message"]


def test_query_secrets_stay_out_of_the_access_log() -> None:
    env = {"POLYVOX_LOG_LEVEL": "info", "POLYVOX_API_KEYS": json.dumps([KEY])}
    proc, url = spawn_server(env, stderr=subprocess.PIPE)
    try:
        httpx.get(f"{url}/v1/models?api_key=sw0rdf1sh&limit=2")
        httpx.get(f"{url}/health?token=t0ps3cret")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    log = err.decode()
    assert "GET /v1/models?api_key=REDACTED&limit=2" in log
    assert "/health?token=REDACTED" in log
    assert "sw0rdf1sh" not in log
    assert "t0ps3cret" not in log
