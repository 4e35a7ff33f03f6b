"""Wyoming for real: ``polyvox serve --wyoming tcp://...`` as a process, driven by the
``wyoming`` library's own client the way Home Assistant drives wyoming-piper."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import time
import wave
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart
from wyoming.audio import AudioChunk, AudioStart, wav_to_chunks
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from tests.conftest import free_port
from tests.processes import spawn_server, stop
from tests.stt_audio import KEYWORDS, speech_wav

pytestmark = pytest.mark.integration
VOICE = SynthesizeVoice(name="piper/en_US-joe-medium")
LONG = "This sentence is one of many, and the text goes on for a good while. " * 12


class Wyoming:
    """Where the server listens: its HTTP url and its Wyoming port."""

    def __init__(self, url: str, port: int) -> None:
        self.url = url
        self.port = port

    def client(self) -> AsyncTcpClient:
        return AsyncTcpClient("127.0.0.1", self.port)


@pytest.fixture(scope="module")
def server() -> Iterator[Wyoming]:
    port = free_port()
    env = {"POLYVOX_PRELOAD": '["piper", "whisper"]', "POLYVOX_TTS_SLOTS": "1"}
    proc, url = spawn_server(env, args=("--wyoming", f"tcp://127.0.0.1:{port}"))
    try:
        yield Wyoming(url, port)
    finally:
        stop(proc)


async def read(client: AsyncTcpClient, until: str, seconds: float = 60) -> list[Event]:
    """Events up to and including the first of type ``until`` (or an error)."""
    events = []
    while True:
        event = await asyncio.wait_for(client.read_event(), seconds)
        assert event is not None, "the server closed the connection"
        events.append(event)
        if event.type in (until, "error"):
            return events


def pcm_seconds(events: list[Event]) -> float:
    start = AudioStart.from_event(next(e for e in events if AudioStart.is_type(e.type)))
    pcm = b"".join(AudioChunk.from_event(e).audio for e in events if AudioChunk.is_type(e.type))
    return len(pcm) / (start.rate * start.width * start.channels)


def test_describe_lists_every_tts_voice_and_stt_model(server: Wyoming) -> None:
    async def run() -> Info:
        async with server.client() as client:
            await client.write_event(Describe().event())
            return Info.from_event((await read(client, "info"))[-1])

    info = asyncio.run(run())
    tts = info.tts[0]
    assert tts.supports_synthesize_streaming
    voice = next(v for v in tts.voices if v.name == VOICE.name)
    assert voice.languages == ["en_US"]
    assert [m.name for m in info.asr[0].models] == ["whisper"]


def test_synthesize_speaks_with_the_voice_home_assistant_names(server: Wyoming) -> None:
    async def run() -> list[Event]:
        async with server.client() as client:
            await client.write_event(Synthesize("Hello from Wyoming.", voice=VOICE).event())
            return await read(client, "audio-stop")

    events = asyncio.run(run())
    assert events[0].type == "audio-start", events[0]
    assert AudioStart.from_event(events[0]).rate == 22050
    assert 0.8 < pcm_seconds(events) < 4


def test_streamed_text_is_spoken_before_the_stream_ends(server: Wyoming) -> None:
    async def run() -> tuple[list[Event], list[Event]]:
        async with server.client() as client:
            await client.write_event(SynthesizeStart(voice=VOICE).event())
            await client.write_event(SynthesizeChunk("The first sentence is complete. ").event())
            await client.write_event(SynthesizeChunk("The second one is still").event())
            early = await read(client, "audio-chunk")  # synthesize-stop not sent yet
            await client.write_event(SynthesizeChunk(" being written.").event())
            # Home Assistant also sends the whole text once, for older servers: ignored
            await client.write_event(Synthesize("ignored", voice=VOICE).event())
            await client.write_event(SynthesizeStop().event())
            return early, await read(client, "synthesize-stopped")

    early, rest = asyncio.run(run())
    assert [e.type for e in early] == ["audio-start", "audio-chunk"]
    assert rest[-2].type == "audio-stop"
    assert SynthesizeStopped.is_type(rest[-1].type)
    assert pcm_seconds(early + rest) > 3  # both sentences, and "ignored" was not spoken


def test_a_wav_made_by_piper_is_transcribed(server: Wyoming) -> None:
    recording = speech_wav()

    async def run() -> list[Event]:
        async with server.client() as client:
            await client.write_event(Transcribe(name="whisper", language="en").event())
            with wave.open(io.BytesIO(recording)) as wav:
                for event in wav_to_chunks(wav, 2048, start_event=True, stop_event=True):
                    await client.write_event(event.event())
            return await read(client, "transcript")

    events = asyncio.run(run())
    assert TranscriptStart.is_type(events[0].type)
    assert any(TranscriptChunk.is_type(e.type) for e in events)
    text = Transcript.from_event(events[-1]).text.lower()
    assert sum(word in text for word in KEYWORDS) >= 5, text


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (Synthesize("Hi.", voice=SynthesizeVoice(name="piper/nobody")), "voice_not_found"),
        (Synthesize("Hi.", voice=SynthesizeVoice(name="no-model/x")), "model_not_found"),
        (Synthesize("   "), "invalid_request"),
        (Synthesize("Hi.", voice=SynthesizeVoice(name="whisper/x")), "invalid_request"),
    ],
    ids=["voice", "model", "empty", "stt-model"],
)
def test_a_bad_request_is_an_error_event_then_the_connection_closes(
    server: Wyoming, event: Synthesize, code: str
) -> None:
    """As wyoming-piper does: Home Assistant waits for the end of an exchange and ignores
    ``error``, so the closed connection is what tells it the request failed."""

    async def run() -> tuple[Error, Event | None, list[Event]]:
        async with server.client() as client:
            await client.write_event(event.event())
            error = Error.from_event((await read(client, "error"))[-1])
            after = await asyncio.wait_for(client.read_event(), 10)
        async with server.client() as again:  # the server serves the next connection
            await again.write_event(Synthesize("Still here.").event())
            return error, after, await read(again, "audio-stop")

    error, after, next_one = asyncio.run(run())
    assert error.code == code, error
    assert after is None  # closed
    assert next_one[-1].type == "audio-stop"


def test_a_failed_stream_still_ends_with_synthesize_stopped(server: Wyoming) -> None:
    async def run() -> list[Event]:
        async with server.client() as client:
            await client.write_event(
                SynthesizeStart(voice=SynthesizeVoice(name="piper/nobody")).event()
            )
            await client.write_event(SynthesizeChunk("Hello there.").event())
            return await read(client, "error")

    events = asyncio.run(run())
    assert [e.type for e in events] == ["synthesize-stopped", "error"]
    assert Error.from_event(events[-1]).code == "voice_not_found"


def metric(server: Wyoming, name: str, **labels: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_a_dropped_stream_frees_its_slot(server: Wyoming) -> None:
    route = {"route": "wyoming/synthesize-stream", "model": "piper"}
    dropped_before = metric(server, "polyvox_requests_total", status="499", **route)

    async def drop() -> None:
        client = server.client()
        await client.connect()
        await client.write_event(SynthesizeStart(voice=VOICE).event())
        await client.write_event(SynthesizeChunk(LONG).event())
        await read(client, "audio-chunk")
        await client.disconnect()  # no synthesize-stop: the text stream never ends

    asyncio.run(drop())
    deadline = time.monotonic() + 10
    while metric(server, "polyvox_inflight_jobs", model="piper") > 0:
        assert time.monotonic() < deadline, "the dropped stream still holds the slot"
        time.sleep(0.1)
    assert metric(server, "polyvox_requests_total", status="499", **route) == dropped_before + 1


def test_a_dropped_connection_frees_its_slot(server: Wyoming) -> None:
    route = {"route": "wyoming/synthesize", "model": "piper"}
    dropped_before = metric(server, "polyvox_requests_total", status="499", **route)

    async def drop() -> None:
        client = server.client()
        await client.connect()
        await client.write_event(Synthesize(LONG).event())
        await read(client, "audio-chunk")
        await client.disconnect()  # gone, with most of the text unspoken

    asyncio.run(drop())
    deadline = time.monotonic() + 10
    while metric(server, "polyvox_inflight_jobs", model="piper") > 0:
        assert time.monotonic() < deadline, "the dropped request still holds the slot"
        time.sleep(0.1)
    assert metric(server, "polyvox_requests_total", status="499", **route) == dropped_before + 1

    async def next_request() -> list[Event]:  # the only slot serves the next client
        async with server.client() as client:
            await client.write_event(Synthesize("Next.").event())
            return await read(client, "audio-stop", seconds=10)

    assert asyncio.run(next_request())[-1].type == "audio-stop"
    assert metric(server, "polyvox_requests_total", status="200", **route) >= 1


def test_a_wrong_wyoming_address_stops_serve_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "polyvox", "serve", "--wyoming", "http://127.0.0.1:1"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert b"tcp://HOST:PORT" in result.stderr
