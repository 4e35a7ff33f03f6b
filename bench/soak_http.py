"""The soak's HTTP clients: random streamed speech (every format, some SSE), ``/tts``,
``/synthesize`` and transcriptions of Piper speech, some hung up on purpose, back to back or
with a think time between requests (``Soak.think``)."""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from soak_tally import REQUEST_LIMIT_S, HangUp, Tally
from texts import LONG_TEXT

SENTENCES = re.split(r"(?<=\.) ", LONG_TEXT)
LENGTHS = (1, 1, 1, 2, 3, 5, 10, 15)  # sentences per request; 5 sentences are 80 words
SPEECH_FORMATS = ("mp3", "wav", "pcm", "opus")
TRANSCRIPT_FORMATS = ("json", "json", "verbose_json", "srt")
MAX_REQUESTS = 100_000  # per client: the loop is bounded by a count as well as by the clock
Clip = tuple[str, bytes, str]  # a file to upload: name, content, media type
Call = tuple[str, dict[str, Any]]  # a request: route (path, maybe a note) and httpx's kwargs


@dataclass(frozen=True)
class Soak:
    """What every client of one soak shares: where the server is, who they are, what to
    send, when to stop (time.monotonic) and where to count what happened."""

    url: str
    wyoming_port: int
    key: str
    """The API key of the mixed clients (HTTP and WebSocket)."""
    clips: list[Clip]
    stop: float
    hangup: float
    """The chance a request is hung up on purpose."""
    tally: Tally
    think: float = 0.0
    """A client's mean pause between requests (each drawn from x0.5-1.5 of it); 0: none."""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def words_of(rng: random.Random) -> str:
    """One sentence to a few paragraphs of the long text, from a random sentence on."""
    start, count = rng.randrange(len(SENTENCES)), rng.choice(LENGTHS)
    return " ".join((SENTENCES * 2)[start : start + count])


def speech(words: str, fmt: str, sse: bool = False) -> Call:
    body = {"model": "tts-1", "input": words, "response_format": fmt}
    body["stream_format"] = "sse" if sse else "audio"
    return "/v1/audio/speech" + (" (sse)" if sse else ""), {"json": body}


def plain(route: str, words: str) -> Call:
    """A non-streaming synthesis: ``/tts`` (Qwen-TTS) or ``/synthesize`` (lean proxy)."""
    body = {"text": words, "format": "wav"} if route == "/tts" else {"text": words}
    return route, {"json": body}


def transcription(clip: Clip, fmt: str | None) -> Call:
    """A transcription as ``fmt``, or streamed (SSE) when ``fmt`` is None."""
    data = {"model": "whisper-1", **({"response_format": fmt} if fmt else {"stream": "true"})}
    route = "/v1/audio/transcriptions" + ("" if fmt else " (stream)")
    return route, {"files": {"file": clip}, "data": data}


def pick(rng: random.Random, clips: list[Clip]) -> Call:
    """A random request: streamed speech, /tts, /synthesize or a transcription."""
    kind = rng.choices(("speech", "/tts", "/synthesize", "stt"), weights=(4, 1, 1, 3))[0]
    words = words_of(rng)
    if kind == "speech":
        return speech(words, rng.choice(SPEECH_FORMATS), sse=rng.random() < 0.25)
    if kind != "stt":
        return plain(kind, words)
    fmt = None if rng.random() < 0.3 else rng.choice(TRANSCRIPT_FORMATS)
    return transcription(rng.choice(clips), fmt)


async def send(
    http: httpx.AsyncClient, route: str, kwargs: dict[str, Any], hang: HangUp
) -> tuple[str, str]:
    """(outcome, what failed) of a POST to ``route``, read to its end unless hung up."""
    status, tail = 0, b""
    try:
        async with asyncio.timeout(hang.limit) as timer:
            async with http.stream("POST", route.split()[0], **kwargs) as response:
                status = response.status_code
                async for chunk in response.aiter_raw():
                    hang.arrived(timer)
                    tail = (tail + chunk)[-1024:]
    except TimeoutError:
        outcome, failure = hang.timed_out()
        if outcome == "errors" or status < 400:  # a refusal before the hang-up counts as that
            return outcome, failure
    except httpx.HTTPError as error:
        return "errors", type(error).__name__
    if status == 429:
        return "429", tail.decode(errors="replace")
    if status >= 400:
        return ("5xx" if status >= 500 else "4xx"), f"HTTP {status}"
    return ("errors", "SSE error event") if b'"type":"error"' in tail else ("completed", "")


async def _sleep_until_stop(soak: Soak, seconds: float) -> None:
    await asyncio.sleep(max(0.0, min(seconds, soak.stop - time.monotonic())))


async def stagger(soak: Soak, rng: random.Random) -> None:
    """Before a paced client's first request: 0-``think`` s, so that clients do not start
    (and stay) in step. Nothing when there is no think time."""
    if soak.think > 0:
        await _sleep_until_stop(soak, rng.uniform(0.0, soak.think))


async def pause(soak: Soak, rng: random.Random, outcome: str) -> None:
    """After a request: a refused one (429) is retried after 0.1-0.5 s; any other is
    followed by the think time, x0.5-1.5 of ``soak.think`` (never past ``soak.stop``)."""
    if outcome == "429":
        await asyncio.sleep(rng.uniform(0.1, 0.5))
    elif soak.think > 0:
        await _sleep_until_stop(soak, soak.think * rng.uniform(0.5, 1.5))


async def client(soak: Soak, rng: random.Random) -> None:
    """One HTTP client: random requests, paced by ``soak.think``, until ``soak.stop``."""
    async with httpx.AsyncClient(
        base_url=soak.url, headers=soak.headers, timeout=REQUEST_LIMIT_S
    ) as http:
        await stagger(soak, rng)
        for _ in range(MAX_REQUESTS):
            if time.monotonic() >= soak.stop:
                return
            route, kwargs = pick(rng, soak.clips)
            outcome, failure = await send(http, route, kwargs, HangUp.draw(rng, soak.hangup))
            soak.tally.add(route, outcome, failure)
            await pause(soak, rng, outcome)


def warm(url: str, headers: dict[str, str]) -> list[Clip]:
    """Send each kind of request once (Whisper loads); returns Piper speech to transcribe."""
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        clips = []
        for fmt, mime, count in (("wav", "audio/wav", 1), ("mp3", "audio/mpeg", 3)):
            _, kwargs = speech(" ".join(SENTENCES[:count]), fmt)
            audio = http.post("/v1/audio/speech", **kwargs).raise_for_status().content
            clips.append((f"speech.{fmt}", audio, mime))
        calls = [speech(SENTENCES[0], fmt, sse) for fmt in SPEECH_FORMATS for sse in (False, True)]
        calls += [plain(route, SENTENCES[0]) for route in ("/tts", "/synthesize")]
        calls += [transcription(clips[0], fmt) for fmt in (*TRANSCRIPT_FORMATS[1:], None)]
        for route, kwargs in calls:
            http.post(route.split()[0], **kwargs).raise_for_status()
    return clips
