"""The soak's streaming clients: WebSocket speech streams (config, text deltas, end) and
Wyoming clients (the ``wyoming`` library's AsyncTcpClient: synthesize, streamed synthesis,
transcription) with random hang-ups, paced by the soak's think time until it stops."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import random
import time
import wave

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from soak_http import MAX_REQUESTS, Soak, pause, stagger, words_of
from soak_tally import HangUp, refusal

WS_PATH = "/v1/audio/speech/stream"
WS_ROUTE = f"ws {WS_PATH}"
WS_FORMATS = ("pcm", "mp3", "opus", "wav")
WYOMING_KINDS = ("synthesize", "synthesize-start", "transcribe")
DONE = {"synthesize": "audio-stop", "synthesize-start": "synthesize-stopped"}
FIRST = frozenset({"audio-chunk", "transcript-chunk", "transcript"})
"""Wyoming events that are a first byte: audio, or (part of) a transcript."""
AUDIO_BYTES = 4096  # per audio-chunk event, about what Home Assistant sends
Outcome = tuple[str, str]  # (outcome, what failed)


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://", 1) + WS_PATH


def deltas_of(words: str, rng: random.Random) -> list[str]:
    """The text as deltas of one to four words, as a language model writes it."""
    tokens, deltas = words.split(" "), []
    while tokens:
        count = rng.randint(1, 4)
        deltas.append(" ".join(tokens[:count]) + " ")
        tokens = tokens[count:]
    return deltas


async def _write_deltas(ws: ClientConnection, deltas: list[str], rng: random.Random) -> None:
    await ws.send(
        json.dumps({"type": "config", "model": "tts-1", "response_format": rng.choice(WS_FORMATS)})
    )
    for delta in deltas:
        await asyncio.sleep(rng.uniform(0.02, 0.2))
        await ws.send(json.dumps({"type": "text", "text": delta}))
    await ws.send(json.dumps({"type": "end"}))


async def _ws_answer(ws: ClientConnection, hang: HangUp, timer: asyncio.Timeout) -> Outcome:
    async for message in ws:
        if isinstance(message, bytes):
            hang.arrived(timer)
            continue
        data = json.loads(message)
        if data.get("type") == "speech.audio.done":
            return "completed", ""
        if data.get("type") == "error":
            error = data.get("error", {})
            return refusal(str(error.get("code")), str(error.get("message")))
    return "errors", f"closed {ws.close_code} before speech.audio.done"


async def ws_stream(soak: Soak, rng: random.Random) -> Outcome:
    """One streamed text over the WebSocket, read to ``speech.audio.done`` unless hung up
    (then the socket is closed cleanly or dropped, at random)."""
    hang, deltas = HangUp.draw(rng, soak.hangup), deltas_of(words_of(rng), rng)
    try:
        async with connect(
            ws_url(soak.url),
            additional_headers=soak.headers,
            open_timeout=30,
            close_timeout=2,
            max_size=None,
        ) as ws:
            writer = asyncio.create_task(_write_deltas(ws, deltas, random.Random(rng.random())))
            try:
                async with asyncio.timeout(hang.limit) as timer:
                    return await _ws_answer(ws, hang, timer)
            except TimeoutError:
                if rng.random() < 0.5:
                    ws.transport.abort()  # a dropped connection rather than a close frame
                return hang.timed_out()
            finally:
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
    except InvalidStatus as error:
        status = error.response.status_code
        return ("429" if status == 429 else "5xx" if status >= 500 else "4xx"), f"HTTP {status}"
    except ConnectionClosed as error:
        code = error.rcvd.code if error.rcvd else 1006
        return ("5xx" if code == 1011 else "errors"), f"close {code}"
    except (OSError, TimeoutError, WebSocketException) as error:
        return "errors", type(error).__name__


def pcm_of(wav_bytes: bytes) -> tuple[bytes, int]:
    """The samples and rate of a mono 16-bit WAV file."""
    with wave.open(io.BytesIO(wav_bytes)) as w:
        return w.readframes(w.getnframes()), w.getframerate()


async def _wyoming_write(
    client: AsyncTcpClient, kind: str, words: str, rng: random.Random, audio: tuple[bytes, int]
) -> None:
    """What a Wyoming client sends: one synthesize, a streamed text (as Home Assistant
    sends it: start, chunks, the whole text, stop) or an utterance to transcribe."""
    if kind == "synthesize":
        await client.write_event(Synthesize(text=words).event())
    elif kind == "synthesize-start":
        await client.write_event(SynthesizeStart().event())
        for delta in deltas_of(words, rng):
            await asyncio.sleep(rng.uniform(0.02, 0.2))
            await client.write_event(SynthesizeChunk(text=delta).event())
        await client.write_event(Synthesize(text=words).event())
        await client.write_event(SynthesizeStop().event())
    else:
        pcm, rate = audio
        await client.write_event(Transcribe().event())
        await client.write_event(AudioStart(rate=rate, width=2, channels=1).event())
        for at in range(0, len(pcm), AUDIO_BYTES):
            chunk = AudioChunk(rate=rate, width=2, channels=1, audio=pcm[at : at + AUDIO_BYTES])
            await client.write_event(chunk.event())
        await client.write_event(AudioStop().event())


async def _after_done(client: AsyncTcpClient) -> Outcome:
    """A failure ends the exchange (audio-stop, synthesize-stopped) and then sends ``error``:
    an error right after the last event is the request's outcome."""
    try:
        event: Event | None = await asyncio.wait_for(client.read_event(), 0.3)
    except TimeoutError:
        return "completed", ""
    if event is not None and event.type == "error":
        return refusal(str(event.data.get("code")), str(event.data.get("text")))
    return "completed", ""


async def _wyoming_answer(
    client: AsyncTcpClient, kind: str, hang: HangUp, timer: asyncio.Timeout
) -> Outcome:
    done = DONE.get(kind, "transcript")
    while (event := await client.read_event()) is not None:
        if event.type in FIRST:
            hang.arrived(timer)
        if event.type == "error":
            return refusal(str(event.data.get("code")), str(event.data.get("text")))
        if event.type == done:
            return await _after_done(client)
    return "errors", f"closed before {done}"


async def wyoming_request(
    soak: Soak, rng: random.Random, kind: str, audio: tuple[bytes, int]
) -> Outcome:
    """One Wyoming request of ``kind`` on a fresh connection (as Home Assistant makes them),
    read to its end unless hung up (the connection is closed)."""
    words, hang = words_of(rng), HangUp.draw(rng, soak.hangup)
    client = AsyncTcpClient("127.0.0.1", soak.wyoming_port, connect_timeout=30)
    try:
        await client.connect()
        writer = asyncio.create_task(
            _wyoming_write(client, kind, words, random.Random(rng.random()), audio)
        )
        try:
            async with asyncio.timeout(hang.limit) as timer:
                return await _wyoming_answer(client, kind, hang, timer)
        except TimeoutError:
            return hang.timed_out()
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
    except (OSError, TimeoutError, EOFError) as error:
        return "errors", type(error).__name__
    finally:
        with contextlib.suppress(OSError):
            await client.disconnect()


async def ws_client(soak: Soak, rng: random.Random) -> None:
    """A WebSocket client: streamed texts, paced by ``soak.think``, until ``soak.stop``."""
    await stagger(soak, rng)
    for _ in range(MAX_REQUESTS):
        if time.monotonic() >= soak.stop:
            return
        outcome, failure = await ws_stream(soak, rng)
        soak.tally.add(WS_ROUTE, outcome, failure)
        await pause(soak, rng, outcome)


async def wyoming_client(soak: Soak, rng: random.Random) -> None:
    """A Wyoming client (127.0.0.1): random requests, paced by ``soak.think``, until
    ``soak.stop``."""
    audio = pcm_of(soak.clips[0][1])
    await stagger(soak, rng)
    for _ in range(MAX_REQUESTS):
        if time.monotonic() >= soak.stop:
            return
        kind = rng.choice(WYOMING_KINDS)
        outcome, failure = await wyoming_request(soak, rng, kind, audio)
        soak.tally.add(f"wyoming {kind}", outcome, failure)
        await pause(soak, rng, outcome)
