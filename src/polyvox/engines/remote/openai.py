"""A model served by any OpenAI-compatible speech server: speaches, Kokoro-FastAPI, OpenAI.

    [models.kokoro-gpu]
    engine = "openai"
    url = "http://gpu-box:8880"        # base URL; requests go to {url}/v1/audio/speech
    model = "kokoro"                   # the model name the server knows (required)
    voices = ["af_bella", "am_adam"]   # the first is the default (or set default_voice);
                                       # none: GET {url}/v1/audio/voices, else OpenAI's names
    format = "pcm"                     # what to ask the server for: "pcm" or "wav"
    sample_rate = 24000                # the rate of its pcm (OpenAI's convention: 24 kHz)
    speed = true                       # pass speed on (false: a request with speed is a 422)

    [models.openai-tts]
    engine = "openai"
    url = "https://api.openai.com"
    model = "gpt-4o-mini-tts"
    api_key = "sk-..."                 # sent as Authorization: Bearer, never logged
    instructions = true                # the model takes instructions

Audio streams as it arrives (a ``wav`` header is read as the bytes come) and is resampled to
``sample_rate``, which every voice declares, if it comes at another rate. Described errors
keep their status, unusable answers are 502s; closing the stream closes the upstream request.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import AsyncGenerator, AsyncIterator
from fractions import Fraction
from typing import Any, Literal

import av
import httpx
import numpy as np
from pydantic import Field, model_validator

from polyvox.audio import Float32
from polyvox.engines.remote.http import HttpEngine, RemoteOptions, Upstream, pcm_chunks
from polyvox.engines.spec import ModelSpec
from polyvox.settings import OPENAI_VOICES
from polyvox.types import AudioChunk, EngineInfo, SpeechRequest, VoiceInfo

_MAX_HEADER = 64 * 1024  # bytes of WAV chunks before ``data`` (fmt, LIST, ...) at most
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # ``data`` sizes of a streamed WAV: read to the end


class OpenAIOptions(RemoteOptions):
    """An OpenAI-compatible speech server and which of its models serves this one."""

    model: str = Field(min_length=1)
    """The model name the server knows (``kokoro``, ``tts-1``, ``speaches-ai/...``)."""
    voices: list[str] = Field(default_factory=list)
    """Voice ids; empty: the server's ``/v1/audio/voices``, else OpenAI's voice names."""
    default_voice: str | None = None
    """The voice of a request that names none (default: the first voice)."""
    format: Literal["pcm", "wav"] = "pcm"
    """The ``response_format`` asked of the server."""
    sample_rate: int = Field(24000, ge=8000, le=192_000)
    """The rate of the server's pcm, and of every voice here."""
    speed: bool = True
    """Pass a request's speed on; false: the server ignores speed, so a request with it is a 422."""
    instructions: bool = False
    """The model takes ``instructions`` (gpt-4o-mini-tts); false: a request with them is a 422."""

    @model_validator(mode="after")
    def _default_is_a_voice(self) -> OpenAIOptions:
        if self.voices and self.default_voice and self.default_voice not in self.voices:
            raise ValueError(f"default_voice {self.default_voice!r} is not one of voices")
        return self


class OpenAIRemote(HttpEngine):
    """A text-to-speech model of an OpenAI-compatible server, as a local engine."""

    Options = OpenAIOptions
    options: OpenAIOptions
    default_slots = 16
    """Requests sent on at once; the rest wait in this server's fair queue."""

    def __init__(self, spec: ModelSpec) -> None:
        assert isinstance(spec.options, OpenAIOptions)
        self.options = o = spec.options
        self.upstream = Upstream(spec.id, o.url)
        self.info = EngineInfo(
            model=spec.id,
            engine="openai",
            kind="tts",
            device="remote",
            placement="remote",
            description=f"{o.model} on the OpenAI-compatible server at {o.shown_url}",
            sample_rate=o.sample_rate,
            speed=o.speed,
            instructions=o.instructions,
            # OpenAI-compatible servers need not stream a long input sentence by sentence
            # (many synthesise it whole first): the gateway sends a phrase, then growing
            # pieces, so the first audio waits for one phrase, not the whole text.
            splits_text=False,
        )
        self._voices = [self._voice({"id": v}) for v in o.voices]
        self._default_voice = o.default_voice or (o.voices[0] if o.voices else "")
        self.described = bool(o.voices)

    def _voice(self, entry: dict[str, Any]) -> VoiceInfo:
        name, lang = entry.get("name"), entry.get("language")
        name = name if isinstance(name, str) else entry["id"]
        lang = lang if isinstance(lang, str) else ""
        return VoiceInfo(entry["id"], name, lang, self.info.model, self.options.sample_rate)

    async def describe(self) -> None:
        """Read the server's voices (retried while it starts up), else OpenAI's names."""
        found = await self.upstream.discover(self.options.discovery_attempts, self._listed)
        entries = found or [{"id": name} for name in OPENAI_VOICES]
        wanted = self.options.default_voice
        if wanted and wanted not in {e["id"] for e in entries}:
            entries.append({"id": wanted})  # a voice the server has but does not list (a blend)
        self._voices = [self._voice(e) for e in entries]
        self._default_voice = wanted or self._voices[0].id
        self.described = True

    async def _listed(self) -> list[dict[str, Any]]:
        response = await self.http.get("/v1/audio/voices", params={"model": self.options.model})
        if response.status_code in (404, 405):
            return []  # no voice listing (OpenAI itself)
        if response.status_code != 200:
            raise await self.upstream.error(response)
        try:
            return _entries(response.json(), self.options.model)
        except ValueError:
            raise self.upstream.bad("an unexpected answer to GET /v1/audio/voices") from None

    async def load(self) -> None:
        """Read the voices if they are not known yet (nothing else to load)."""
        if not self.described:
            await self.describe()

    def voices(self) -> list[VoiceInfo]:
        """The configured or discovered voices (empty until described)."""
        return list(self._voices)

    @property
    def default_voice(self) -> str:
        """The voice of a request that names none."""
        return self._default_voice

    async def synthesize(self, req: SpeechRequest) -> AsyncGenerator[AudioChunk, None]:
        """Stream ``req.text`` from the server, as float32 at ``sample_rate``."""
        o = self.options
        body: dict[str, Any] = {
            "model": o.model,
            "input": req.text,
            "voice": req.voice,
            "response_format": o.format,
        }
        if o.speed and req.speed is not None:
            body["speed"] = req.speed
        if o.instructions and req.instructions:
            body["instructions"] = req.instructions
        try:
            async with self.http.stream("POST", "/v1/audio/speech", json=body) as response:
                if response.status_code != 200:
                    raise await self.upstream.error(response)
                async with contextlib.aclosing(self._audio(response)) as chunks:
                    async for chunk in chunks:
                        yield chunk
        except httpx.HTTPError as exc:
            raise self.upstream.unreachable(exc) from exc

    async def _audio(self, response: httpx.Response) -> AsyncGenerator[AudioChunk, None]:
        parts = response.aiter_bytes()
        if self.options.format == "wav":
            rate, data = await wav_stream(parts, self.upstream)
        else:
            said = response.headers.get("x-sample-rate", str(self.options.sample_rate))
            if not said.isdigit() or not 1000 <= int(said) <= 384_000:
                raise self.upstream.bad(f"an x-sample-rate header of {said!r}")
            rate, data = int(said), parts
        to = self.options.sample_rate
        resample = None if rate == to else Resampler(rate, to)
        async with contextlib.aclosing(pcm_chunks(data, rate, self.upstream)) as chunks:
            async for chunk in chunks:
                if resample is None:
                    yield chunk
                elif len(out := resample(chunk.samples)):
                    yield AudioChunk(out, to)
        if resample is not None and len(out := resample(None)):
            yield AudioChunk(out, to)


def _entries(body: Any, model: str) -> list[dict[str, Any]]:
    """Voices from ``{"data": [{"id": ...}]}`` (polyvox, speaches) or ``{"voices": [...]}``
    (Kokoro-FastAPI: names, or objects); raises ValueError for anything else."""
    items = body.get("data", body.get("voices")) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValueError("no voice list")
    entries: list[dict[str, Any]] = []
    for item in items:
        item = {"id": item} if isinstance(item, str) else item
        if not isinstance(item, dict):
            raise ValueError("a voice that is neither a name nor an object")
        voice_id = item.get("id", item.get("voice_id", item.get("name")))
        if not isinstance(voice_id, str) or not voice_id:
            raise ValueError("a voice without an id")
        entries.append({**item, "id": voice_id})
    # a server that ignores ?model= lists every model's voices: keep this model's, if any
    mine = [e for e in entries if e.get("model", e.get("model_id")) == model]
    return mine or entries


class Resampler:
    """Float32 mono from one rate to another (libswresample), chunk by chunk."""

    def __init__(self, rate: int, to: int) -> None:
        self._rate = rate
        self._pts = 0
        self._swr = av.AudioResampler(format="flt", layout="mono", rate=to)

    def __call__(self, samples: Float32 | None) -> Float32:
        """More samples (None: the end) -> what is ready at the new rate."""
        frame = None
        if samples is not None:
            frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
            frame.sample_rate, frame.pts = self._rate, self._pts
            frame.time_base = Fraction(1, self._rate)
            self._pts += len(samples)
        out = [f.to_ndarray()[0] for f in self._swr.resample(frame)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


async def wav_stream(
    parts: AsyncIterator[bytes], upstream: Upstream
) -> tuple[int, AsyncIterator[bytes]]:
    """A streamed 16-bit mono WAV: its rate, read from the header as the bytes come, and its
    sample bytes as they arrive. A body that is not such a WAV, or is cut short, is a 502."""
    reader = _Reader(parts, upstream)
    head = await reader.take(12)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise upstream.bad("a body that is not a WAV file")
    rate = 0
    while True:
        chunk_id, size = struct.unpack("<4sI", await reader.take(8))
        if chunk_id == b"data":
            break
        if reader.taken + size > _MAX_HEADER:
            raise upstream.bad(f"a WAV header over {_MAX_HEADER} bytes")
        data = await reader.take(size + size % 2)
        if chunk_id == b"fmt ":
            if size < 16:
                raise upstream.bad("a WAV file with a short format chunk")
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[:16])
            if tag not in (1, 0xFFFE) or channels != 1 or bits != 16:
                raise upstream.bad(
                    f"WAV audio that is not 16-bit mono PCM (format {tag}, {channels} "
                    f"channels, {bits} bits)"
                )
    if not 1000 <= rate <= 384_000:  # 0: no format chunk came before the data
        raise upstream.bad(f"a WAV file without a usable format chunk (rate {rate} Hz)")
    return rate, reader.rest(None if size in _UNKNOWN_SIZES else size)


class _Reader:
    """Exact byte counts from a stream of parts of any size."""

    def __init__(self, parts: AsyncIterator[bytes], upstream: Upstream) -> None:
        self._parts = parts
        self._upstream = upstream
        self._buffer = b""
        self.taken = 0

    async def take(self, n: int) -> bytes:
        while len(self._buffer) < n:
            part = await anext(self._parts, None)
            if part is None:
                raise self._upstream.bad("a WAV file that ends inside its header")
            self._buffer += part
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        self.taken += n
        return out

    async def rest(self, size: int | None) -> AsyncIterator[bytes]:
        """The remaining bytes (``size`` of them, if known: a shorter body is a 502)."""
        part: bytes | None = self._buffer
        self._buffer = b""
        while part is not None:
            if size is not None:
                part, size = part[:size], size - min(size, len(part))
            if part:
                yield part
            if size == 0:
                return
            part = await anext(self._parts, None)
        if size:
            raise self._upstream.bad(f"a WAV file cut short ({size} bytes of audio missing)")
