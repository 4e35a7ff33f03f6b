"""A remote that misbehaves gives a 502/503 naming the model: never a hang, never a traceback.

The misbehaving server speaks polyvox's discovery routes correctly and then answers speech
requests wrongly, one way per voice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from polyvox.settings import ModelConfig, Settings
from tests.conftest import LiveServer, start_server
from tests.helpers import sse_events
from tests.standins.indextts_vllm import serving

pytestmark = pytest.mark.integration
FAULTS = ["odd", "cut", "rate", "slow", "plain500", "denied", "busy"]


def misbehaving() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/models/bad")
    async def card() -> dict[str, object]:
        return {
            "id": "bad", "object": "model", "kind": "tts", "description": "", "languages": [],
            "capabilities": {"engine": "piper", "sample_rate": 22050}, "default_voice": "odd",
        }  # fmt: skip

    @app.get("/v1/audio/voices")
    async def voices() -> dict[str, object]:
        data = [{"id": v, "name": v, "language": "en", "sample_rate": 22050} for v in FAULTS]
        return {"object": "list", "data": data}

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Response:
        voice = (await request.json())["voice"]
        if voice == "odd":
            return Response(b"\x07", media_type="audio/pcm")  # half a sample, nothing more
        if voice == "rate":
            return Response(b"\x00" * 1000, headers={"x-sample-rate": "16000"})
        if voice == "plain500":
            return Response("Internal Server Error", status_code=500)
        if voice == "denied":
            return JSONResponse({"error": {"message": "bad key", "code": "invalid_api_key"}}, 401)
        if voice == "busy":
            body = {"error": {"message": "full", "code": "overloaded", "param": None}}
            return JSONResponse(body, 429)

        async def audio() -> AsyncIterator[bytes]:
            yield b"\x00" * 4410
            if voice == "slow":
                await asyncio.sleep(30)
            raise RuntimeError("the stand-in breaks off")  # "cut": the connection drops

        return StreamingResponse(audio(), media_type="audio/pcm")

    return app


@pytest.fixture(scope="module")
def gateway() -> Iterator[LiveServer]:
    with serving(misbehaving()) as url:
        models = {
            "piper": ModelConfig(engine="piper"),
            "bad": ModelConfig(engine="polyvox", url=url, read_timeout=2, discovery_attempts=1),
        }
        yield from start_server(Settings(models=models, preload=["piper"]))


@pytest.mark.parametrize(
    ("voice", "status", "code"),
    [
        ("odd", 502, "upstream_failure"),
        ("rate", 502, "upstream_failure"),
        ("plain500", 502, "upstream_failure"),
        ("denied", 502, "upstream_failure"),  # the gateway's credential, not the client's
        ("busy", 429, "overloaded"),  # described errors keep their status and code
    ],
)
def test_a_bad_answer_before_audio_is_an_error_naming_the_model(
    gateway: LiveServer, voice: str, status: int, code: str
) -> None:
    body = {"model": "bad", "input": "Hello there.", "voice": voice, "response_format": "wav"}
    r = httpx.post(f"{gateway.url}/v1/audio/speech", json=body, timeout=30)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code
    assert "Traceback" not in error["message"]
    if status == 502:
        assert "'bad'" in error["message"]


def test_a_cut_or_silent_stream_ends_the_response_and_the_gateway_goes_on(
    gateway: LiveServer,
) -> None:
    for voice in ("cut", "slow"):
        body = {"model": "bad", "input": "Hello there.", "voice": voice, "response_format": "pcm"}
        with pytest.raises(httpx.RemoteProtocolError):  # audio had started: the body is cut
            httpx.post(f"{gateway.url}/v1/audio/speech", json=body, timeout=30)
    sse = {"model": "bad", "input": "Hi.", "voice": "slow", "stream_format": "sse"}
    events = sse_events(
        httpx.post(
            f"{gateway.url}/v1/audio/speech", json={**sse, "response_format": "pcm"}, timeout=30
        ).text.splitlines()
    )
    assert events[0]["type"] == "speech.audio.delta"
    assert events[-1]["type"] == "error"
    assert "stopped answering" in str(events[-1]["error"])
    ok = httpx.post(f"{gateway.url}/v1/audio/speech", json={"model": "piper", "input": "Fine."})
    assert ok.status_code == 200
