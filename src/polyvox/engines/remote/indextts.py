"""index-tts-vllm's API server (IndexTTS-2, or 1.x) on a GPU box, as a model.

    [models.indextts]
    engine = "indextts-vllm"
    url = "http://gpu-box:6006"          # python api_server_v2.py --model_dir checkpoints/...
    read_timeout = 60                    # the server has no timeout of its own
    default_voice = "narrator"           # default: the first voice
    [models.indextts.voices]             # voice id = reference audio ON THE SERVER (no upload)
    narrator = "/srv/voices/narrator.wav"
    calm = "examples/voice_01.wav"       # relative to the server's working directory

    [models.indextts-1]                  # the repo's Docker image: api_server.py, IndexTTS-1.5
    engine = "indextts-vllm"
    url = "http://gpu-box:8001"
    api = "v1"                           # /audio/speech, 24 kHz; voices: id = a speaker of
                                         # its speaker.json (none set: GET /audio/voices)

IndexTTS-2's emotion controls (``emo_*``) are request parameters, checked before anything
is sent (``indextts_emotions``): the server answers bad input with a 500 and a traceback
(logged here, never passed on). Written from docs/indextts-vllm-protocol.md, i.e.
github.com/Ksuriuri/index-tts-vllm at commit 5f9d0244f626f6a51fbbcee8f266d7f8927cf981.
"""

from __future__ import annotations

import io
import logging
import re
import wave
from collections.abc import AsyncGenerator
from typing import Any, Literal

import httpx
import numpy as np
from pydantic import Field, model_validator

from polyvox.audio import Float32, int16_to_float
from polyvox.engines.remote.http import HttpEngine, RemoteOptions, Upstream
from polyvox.engines.remote.indextts_emotions import emotion_fields, emotion_params
from polyvox.engines.spec import ModelSpec
from polyvox.errors import EngineUnavailable, PolyvoxError
from polyvox.types import AudioChunk, EngineInfo, SpeechRequest, VoiceInfo

log = logging.getLogger(__name__)
RATES = {"v2": 22050, "v1": 24000}
"""What each server writes (``infer_vllm_v2.py`` / ``infer_vllm.py`` hard-code them)."""


class IndexTTSOptions(RemoteOptions):
    """An index-tts-vllm server, its API and its voices."""

    api: Literal["v2", "v1"] = "v2"
    """``v2``: api_server_v2.py (IndexTTS-2); ``v1``: api_server.py (IndexTTS 1.0/1.5)."""
    voices: dict[str, str] = Field(default_factory=dict)
    """Voice id -> v2: its reference audio's path on the server; v1: a speaker name."""
    default_voice: str | None = None
    """The voice of a request that names none (default: the first voice)."""
    sample_rate: int | None = Field(None, ge=8000, le=192_000)
    """The rate of the server's WAV files (default: 22050 for v2, 24000 for v1)."""

    @model_validator(mode="after")
    def _voices_known(self) -> IndexTTSOptions:
        if self.api == "v2" and not self.voices:
            raise ValueError("api v2 needs voices: voice id = reference audio path on the server")
        if not all(self.voices.values()):
            raise ValueError("every voice needs a path (v2) or a speaker name (v1)")
        if self.voices and self.default_voice and self.default_voice not in self.voices:
            raise ValueError(f"default_voice {self.default_voice!r} is not one of voices")
        return self

    @property
    def rate(self) -> int:
        """The sample rate of every voice."""
        return self.sample_rate or RATES[self.api]


class IndexTTSRemote(HttpEngine):
    """A text-to-speech model of an index-tts-vllm server, as a local engine."""

    Options = IndexTTSOptions
    options: IndexTTSOptions
    default_slots = 16
    """Requests sent on at once: vLLM batches them; the rest wait in this server's queue."""

    def __init__(self, spec: ModelSpec) -> None:
        assert isinstance(spec.options, IndexTTSOptions)
        self.options = o = spec.options
        self.upstream = Upstream(spec.id, o.url)
        self.info = EngineInfo(
            model=spec.id,
            engine="indextts-vllm",
            kind="tts",
            device="remote",
            placement="remote",
            description=f"IndexTTS ({o.api} API) on the index-tts-vllm server at {o.shown_url}",
            languages=("zh", "en"),
            sample_rate=o.rate,
            speed=False,
            params=emotion_params(o.voices) if o.api == "v2" else {},
            # Each answer is one whole WAV, after all of its text is spoken: the gateway
            # sends a phrase, then growing pieces, so the first audio waits for one phrase.
            splits_text=False,
        )
        self._voices = dict(o.voices)
        self.described = bool(o.voices)

    async def _get(self, path: str) -> Any:
        response = await self.http.get(path)
        if response.status_code == 503 and path == "/health":
            raise self._not_loaded()
        if response.status_code != 200:
            raise await self.upstream.error(response)
        try:
            return response.json()
        except ValueError:
            raise self.upstream.bad(f"a non-JSON answer to GET {path}") from None

    def _not_loaded(self) -> EngineUnavailable:
        return EngineUnavailable(
            f"model {self.info.model!r}: its server at {self.options.shown_url} has not loaded its "
            "model yet"
        )

    async def _healthy(self) -> None:
        body = await self._get("/health")
        if not isinstance(body, dict) or body.get("status") != "healthy":
            raise self.upstream.bad(f"an unexpected answer to GET /health: {str(body)[:100]!r}")

    async def describe(self) -> None:
        """v1 without configured voices: its speakers (retried while it starts up)."""
        body = await self.upstream.discover(
            self.options.discovery_attempts, lambda: self._get("/audio/voices")
        )
        if not isinstance(body, dict | list):
            raise self.upstream.bad("an unexpected answer to GET /audio/voices")
        if not body:
            raise EngineUnavailable(
                f"model {self.info.model!r}: its server at {self.options.shown_url} has no "
                "speakers (assets/speaker.json); configure voices"
            )
        self._voices = {str(name): str(name) for name in body}
        self.described = True

    async def load(self) -> None:
        """Wait for the server's ``/health`` (refused connections: still loading)."""
        await self.upstream.discover(self.options.discovery_attempts, self._healthy)
        if not self.described:
            await self.describe()

    def voices(self) -> list[VoiceInfo]:
        """The configured (or, v1, discovered) voices."""
        rate = self.options.rate
        return [VoiceInfo(v, v, "", self.info.model, rate) for v in self._voices]

    @property
    def default_voice(self) -> str:
        """The voice of a request that names none (default: the first voice)."""
        return self.options.default_voice or next(iter(self._voices), "")

    async def synthesize(self, req: SpeechRequest) -> AsyncGenerator[AudioChunk, None]:
        """Speak ``req.text``: one whole WAV from the server, yielded in half seconds."""
        path, body = self._request(req)  # a bad parameter is a 422 before anything is sent
        try:
            async with self.http.stream("POST", path, json=body) as response:
                if response.status_code != 200:
                    raise await self._failure(response, req.voice)
                kind = response.headers.get("content-type", "")
                if not kind.startswith("audio/"):
                    raise self.upstream.bad(f"a {kind or 'untyped'} answer instead of audio/wav")
                data = await response.aread()
        except httpx.HTTPError as exc:
            raise self.upstream.unreachable(exc) from exc
        samples = self._samples(data)
        step = self.options.rate // 2
        for start in range(0, len(samples), step):
            yield AudioChunk(samples[start : start + step], self.options.rate)

    def _request(self, req: SpeechRequest) -> tuple[str, dict[str, Any]]:
        voice = self._voices.get(req.voice, req.voice)
        if self.options.api == "v1":
            return "/audio/speech", {"model": self.info.model, "input": req.text, "voice": voice}
        body: dict[str, Any] = {"text": req.text, "spk_audio_path": voice}
        return "/tts_url", body | emotion_fields(self.info.model, req.params, self._voices)

    async def _failure(self, response: httpx.Response, voice: str) -> PolyvoxError:
        """The server's ``{"status": "error", "error": <traceback>}`` as a 502 without the
        traceback (logged instead); any other answer as ``Upstream.error`` sees it."""
        await response.aread()
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("status") != "error":
            return await self.upstream.error(response)
        detail, status = str(body.get("error", "")), response.status_code
        log.warning(
            "model %s: %s answered %d:\n%s", self.info.model, self.options.shown_url, status, detail
        )
        if "Traceback" not in detail:  # a message of its own (the emo_vec sum)
            return self.upstream.bad(f"HTTP {status}: {detail[:200]}")
        last = (detail.strip().splitlines() or [""])[-1]
        error = last.split(":", 1)[0].strip()
        error = error if re.fullmatch(r"[\w.]{1,80}", error) else "an exception"
        if "no attribute 'infer'" in last:
            return self._not_loaded()
        why = "it failed"
        if error == "FileNotFoundError":
            why = f"a reference audio file of voice {voice!r} is not there"
        elif error == "KeyError" and self.options.api == "v1":
            why = f"voice {voice!r} is not one of its speakers"
        return self.upstream.bad(f"HTTP {status}: {why} ({error}; see this server's log)")

    def _samples(self, data: bytes) -> Float32:
        """A whole WAV's samples: 16-bit mono at the model's rate, complete, or a 502."""
        try:
            with wave.open(io.BytesIO(data)) as wav:
                shape = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
                frames = wav.getnframes()
                pcm = wav.readframes(frames)
        except (wave.Error, EOFError) as exc:
            raise self.upstream.bad(f"a body that is not a WAV file ({exc})") from None
        if shape[:2] != (1, 2):
            raise self.upstream.bad(f"WAV audio with {shape[0]} channels of {8 * shape[1]} bits")
        if shape[2] != self.options.rate:
            raise self.upstream.bad(
                f"audio at {shape[2]} Hz where {self.options.rate} Hz was "
                "expected (set sample_rate)"
            )
        if len(pcm) < 2 * frames:
            raise self.upstream.bad(f"a WAV file cut short ({len(pcm)} of {2 * frames} bytes)")
        return int16_to_float(np.frombuffer(pcm, dtype="<i2"))
