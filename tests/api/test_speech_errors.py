"""Bad input gets a 4xx OpenAI-shaped error before any audio, on every path."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

OK = {"model": "tts-1", "input": "Hello.", "voice": "alloy"}
CASES: dict[str, tuple[dict[str, Any], int, str | None]] = {
    "empty input": ({**OK, "input": ""}, 422, "input"),
    "blank input": ({**OK, "input": "   \n\t "}, 422, "input"),
    "punctuation only": ({**OK, "input": "... !!"}, 422, "input"),
    "too long": ({**OK, "input": "word " * 1000}, 422, "input"),
    "missing input": ({"model": "tts-1", "voice": "alloy"}, 422, "input"),
    "input not a string": ({**OK, "input": 123}, 422, "input"),
    "missing model": ({"input": "Hi", "voice": "alloy"}, 422, "model"),
    "unknown model": ({**OK, "model": "nope"}, 404, "model"),
    "unknown voice": ({**OK, "voice": "nobody"}, 404, "voice"),
    "voice object unknown": ({**OK, "voice": {"id": "nobody"}}, 404, "voice"),
    "voice wrong type": ({**OK, "voice": 7}, 422, "voice"),
    "bad format": ({**OK, "response_format": "wma"}, 422, "response_format"),
    "speed too low": ({**OK, "speed": 0.1}, 422, "speed"),
    "speed too high": ({**OK, "speed": 4.01}, 422, "speed"),
    "speed not a number": ({**OK, "speed": "fast"}, 422, "speed"),
    "bad stream format": ({**OK, "stream_format": "ws"}, 422, "stream_format"),
    "instructions for piper": ({**OK, "instructions": "whisper"}, 422, "instructions"),
    "unknown parameter": ({**OK, "temperature": 0.7}, 422, "temperature"),
    "parameter out of range": ({**OK, "noise_scale": 9}, 422, "noise_scale"),
    "parameter wrong type": ({**OK, "volume": "loud"}, 422, "volume"),
    "parameter an object": ({**OK, "volume": {"a": 1}}, 422, "volume"),
    "opus sample rate": (
        {**OK, "response_format": "opus", "sample_rate": 44100},
        422,
        "sample_rate",
    ),
    "sample rate too low": ({**OK, "sample_rate": 100}, 422, "sample_rate"),
}


def check_error(response: httpx.Response, status: int, param: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    if param is not None:
        assert error["param"] == param
        assert param in error["message"]


@pytest.mark.parametrize("stream_format", ["audio", "sse"])
@pytest.mark.parametrize("case", CASES)
def test_bad_request(live_server: LiveServer, case: str, stream_format: str) -> None:
    body, status, param = CASES[case]
    if case != "bad stream format":
        body = {**body, "stream_format": stream_format}
    with httpx.stream(
        "POST", f"{live_server.url}/v1/audio/speech", json=body, timeout=30
    ) as response:
        response.read()
    check_error(response, status, param)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"model": "tts-1", "input": "hi"', "application/json"),
        (b"not json at all", "application/json"),
        (b"", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"model=tts-1&input=hi", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_body(live_server: LiveServer, content: bytes, content_type: str) -> None:
    response = httpx.post(
        f"{live_server.url}/v1/audio/speech",
        content=content, headers={"content-type": content_type}, timeout=30,
    )  # fmt: skip
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_server_keeps_serving_after_errors(live_server: LiveServer) -> None:
    for body, _, _ in CASES.values():
        httpx.post(f"{live_server.url}/v1/audio/speech", json=body, timeout=30)
    response = httpx.post(
        f"{live_server.url}/v1/audio/speech", json={**OK, "response_format": "wav"}, timeout=30
    )
    assert response.status_code == 200
    assert response.content[:4] == b"RIFF"
    assert len(response.content) > 10_000


def test_unknown_route_and_method(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = httpx.get(f"{live_server.url}/v1/audio/speech")
    assert response.status_code == 405
    assert "error" in response.json()
