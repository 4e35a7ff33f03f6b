"""/v1/audio/speech through the official openai client against a real server."""

from __future__ import annotations

import base64

import httpx
import openai
import pytest

from polyvox import codecs
from tests.conftest import LiveServer
from tests.helpers import PARAGRAPH, duration, sse_events

MEDIA = {
    "mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac",
    "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm",
}  # fmt: skip


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def durations(client: openai.OpenAI) -> dict[str, float]:
    found = {}
    for fmt in codecs.FORMATS:
        response = client.audio.speech.create(
            model="tts-1",
            voice="alloy",
            input=PARAGRAPH,
            response_format=fmt,  # type: ignore[arg-type]
        )
        assert response.response.headers["content-type"].startswith(MEDIA[fmt])
        found[fmt] = duration(response.content, fmt)
    return found


def test_every_format_decodes_to_the_same_duration(durations: dict[str, float]) -> None:
    assert min(durations.values()) > 5.0, durations  # three sentences of speech
    spread = max(durations.values()) / min(durations.values())
    assert spread <= 1.05, durations


@pytest.mark.parametrize("fmt", codecs.FORMATS)
def test_streaming_response_matches_full_response(
    client: openai.OpenAI, durations: dict[str, float], fmt: str
) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="nova",
        input=PARAGRAPH,
        response_format=fmt,  # type: ignore[arg-type]
    ) as response:
        parts = list(response.iter_bytes())
    data = b"".join(parts)
    assert abs(duration(data, fmt) - durations[fmt]) / durations[fmt] < 0.05


def test_default_format_is_mp3(client: openai.OpenAI) -> None:
    response = client.audio.speech.create(model="piper", voice="en_US-joe-medium", input="Hello.")
    assert response.response.headers["content-type"] == "audio/mpeg"
    assert duration(response.content, "mp3") > 0.3


def test_speed_changes_duration(client: openai.OpenAI) -> None:
    normal = client.audio.speech.create(
        model="tts-1", voice="alloy", input=PARAGRAPH, response_format="wav"
    ).content
    fast = client.audio.speech.create(
        model="tts-1", voice="alloy", input=PARAGRAPH, response_format="wav", speed=2.0
    ).content
    ratio = duration(fast, "wav") / duration(normal, "wav")
    assert 0.4 < ratio < 0.65


def test_sample_rate_extension(client: openai.OpenAI) -> None:
    data = client.audio.speech.create(
        model="tts-1", voice="alloy", input="Sample rates.", response_format="flac",
        extra_body={"sample_rate": 16000},
    ).content  # fmt: skip
    _, rate = codecs.decode(data)
    assert rate == 16000


def test_piper_parameters_are_accepted(client: openai.OpenAI) -> None:
    data = client.audio.speech.create(
        model="tts-1", voice="alloy", input="One. Two.", response_format="wav",
        extra_body={"noise_scale": 0.3, "noise_w_scale": 0.0, "volume": 0.5,
                    "sentence_silence": 1.0},
    ).content  # fmt: skip
    # Phoneme widths are random unless their noise is off: compare like with like.
    plain = client.audio.speech.create(
        model="tts-1", voice="alloy", input="One. Two.", response_format="wav",
        extra_body={"noise_w_scale": 0.0},
    ).content  # fmt: skip
    assert duration(data, "wav") - duration(plain, "wav") == pytest.approx(2.0, abs=0.1)


def test_sse_stream(live_server: LiveServer) -> None:
    body = {"model": "tts-1", "input": PARAGRAPH, "voice": "alloy",
            "stream_format": "sse", "response_format": "pcm"}  # fmt: skip
    with httpx.stream("POST", f"{live_server.url}/v1/audio/speech", json=body, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.iter_lines())
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 3
    assert events[-1]["type"] == "speech.audio.done"
    usage = events[-1]["usage"]
    assert isinstance(usage, dict)
    assert usage["input_tokens"] > 100
    pcm = b"".join(base64.b64decode(str(e["audio"])) for e in deltas)
    assert usage["audio_seconds"] == pytest.approx(duration(pcm, "pcm"), rel=0.01)


def test_sse_through_openai_client(client: openai.OpenAI) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="Hello there. Second sentence.", stream_format="sse"
    ) as response:
        events = sse_events(response.iter_lines())
    assert [e["type"] for e in events][-1] == "speech.audio.done"


def test_openai_client_sees_typed_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.audio.speech.create(model="no-such-model", voice="alloy", input="Hi")
    assert "no-such-model" in str(info.value)
    with pytest.raises(openai.UnprocessableEntityError):
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi", speed=4.5)


def test_kokoro_fastapi_clients_stream_field(live_server: LiveServer) -> None:
    """Clients written for Kokoro-FastAPI send ``stream``: true streams (chunked, as
    without it), false answers the whole file with its length; a raw body, as they send."""
    url = f"{live_server.url}/v1/audio/speech"
    base = {"model": "tts-1", "input": "Hello there.", "voice": "alloy", "response_format": "wav"}
    streamed = httpx.post(url, json={**base, "stream": True}, timeout=60)
    whole = httpx.post(url, json={**base, "stream": False}, timeout=60)
    assert streamed.status_code == whole.status_code == 200, (streamed.text, whole.text)
    assert streamed.headers.get("transfer-encoding") == "chunked"
    assert int(whole.headers["content-length"]) == len(whole.content)
    # the whole file carries its real sizes; a stream says "unknown" (0xFFFFFFFF)
    assert whole.content[4:8] == (len(whole.content) - 8).to_bytes(4, "little")
    assert duration(whole.content, "wav") == pytest.approx(
        duration(streamed.content, "wav"), abs=0.05
    )
    refused = httpx.post(url, json={**base, "stream": False, "stream_format": "sse"}, timeout=60)
    assert refused.status_code == 422
    assert refused.json()["error"]["param"] == "stream"
