"""Frozen value types shared by every layer: requests, audio chunks, engine capabilities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

ParamValue = float | int | str | bool
EngineKind = str
"""What a model does: ``tts``, ``stt``, or a task of ``polyvox.tasks`` (``image``, ...)."""
Task = Literal["transcribe", "translate"]
Device = Literal["cpu", "cuda", "remote"]
"""Where a model's weights are: ``remote`` when another server does not say."""
Placement = Literal["in-process", "environment", "remote"]
"""Where a model runs: in this process, in an engine environment's worker, on a server."""
STT_SAMPLE_RATE = 16000
"""Sample rate of the audio every STT engine receives."""
SPEED_RANGE = (0.25, 4.0)
"""Speeds every transport accepts (OpenAI's range); engines map it to their own scale."""


@dataclass(frozen=True)
class ParamSpec:
    """One engine-specific request parameter and the values it accepts."""

    type: Literal["float", "int", "str", "bool"]
    description: str
    default: ParamValue | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EngineInfo:
    """What one model can do, as data the service validates requests against.

    It travels as JSON (``/v1/models``) and back (``polyvox.engines.wire``), so a gateway
    can rebuild a remote model's capabilities exactly.
    """

    model: str
    """The model id clients ask for; errors and listings name it."""
    engine: str
    """The engine behind the model (``piper``, ``whisper``, ...)."""
    kind: EngineKind
    description: str
    languages: tuple[str, ...] = ()
    sample_rate: int = 22050
    streaming: bool = True
    voice_cloning: bool = False
    instructions: bool = False
    speed: bool = True
    speed_range: tuple[float, float] = SPEED_RANGE
    """Speeds the model accepts (inclusive), within OpenAI's 0.25-4.0; others are a 422."""
    voice_attributes: Mapping[str, ParamSpec] = field(default_factory=dict)
    """Voice description fields (gender, age, emotion) and the values each accepts."""
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    splits_text: bool = False
    """The engine splits a whole text into sentences and streams them itself (XTTS-v2):
    it gets the text in large pieces instead of phrase by phrase."""
    max_concurrency: int | None = None
    """Requests the engine can run at once; None: as many as the model's slots."""
    max_call_chars: int | None = None
    """The longest text one engine call should get (a model that degrades on long inputs,
    as Chatterbox does); None: the server's ``chunk_grow_chars``."""
    device: Device = "cpu"
    """The device its weights are on, wherever it runs (a worker's or a polyvox server's
    own; ``remote`` for another server that does not say)."""
    placement: Placement = "in-process"
    """Where it runs: in this process, an environment's worker, or another server, which
    gets the whole text at once and splits and schedules it itself."""
    reference_text: bool = False
    """Cloning reads what the reference audio says (Qwen3-TTS Base): a request without
    ``reference_text`` gets the reference transcribed by the server's speech-to-text model."""
    capabilities: Mapping[str, object] = field(default_factory=dict)
    """A task beyond speech: the capabilities record its task declares (JSON-ready); the
    speech fields above are speech's own record."""


@dataclass(frozen=True)
class VoiceInfo:
    """A voice a TTS model offers."""

    id: str
    name: str
    language: str
    model: str
    sample_rate: int
    gender: str | None = None
    description: str = ""


@dataclass(frozen=True)
class SpeechRequest:
    """One synthesis call to an engine; ``None`` means "engine default"."""

    text: str
    voice: str
    speed: float | None = None
    language: str | None = None
    instructions: str | None = None
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    reference_audio: Path | None = None
    """Cached reference audio to clone (its file name is the SHA-256 of its content)."""
    reference_text: str | None = None
    """What the reference audio says (engines with ``reference_text``)."""
    voice_attributes: Mapping[str, ParamValue] = field(default_factory=dict)
    threads: int | None = None
    """CPU threads this call may use (its share of the cores); None: the engine's default."""
    early_audio: bool = True
    """The client is waiting on this call's first audio: an engine that speaks a call in
    pieces may yield a short first piece. False when the client's audio has run out (an
    engine slower than real time): a pause is coming either way, so the fewest, longest
    pieces end the text soonest."""


@dataclass(frozen=True)
class ReferenceAudio:
    """Reference audio for voice cloning: a URL (gs://, s3://, https://) or raw bytes."""

    source: str | bytes
    param: str = "reference_audio"
    """The request field that carried it, so errors name what the client sent."""


@dataclass(frozen=True)
class AudioChunk:
    """Mono float32 PCM in [-1, 1] at ``sample_rate``."""

    samples: npt.NDArray[np.float32]
    sample_rate: int

    @property
    def duration(self) -> float:
        """Seconds of audio in this chunk."""
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class SeedDefaults:
    """A replaced service's documented defaults for a request in its shape (the XTTS
    worker's jobs, the Qwen-TTS routes): ``language``, ``speed`` or engine parameters.

    The service fills in each one the request left unset where the model takes it
    (``checks.apply_seed_defaults``) and notes it in ``applied``, which the shape's
    response reads; the others stay the model's own defaults."""

    values: Mapping[str, ParamValue]
    applied: dict[str, ParamValue] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SpeechParams:
    """What a client asked for, transport-neutral; the service validates and resolves it."""

    model: str
    input: str
    voice: str | None = None
    response_format: str = "mp3"
    speed: float | None = None
    instructions: str | None = None
    sample_rate: int | None = None
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    language: str | None = None
    reference_audio: ReferenceAudio | None = None
    reference_text: str | None = None
    """What the reference audio says; cloning engines that read it get it transcribed
    when it is missing."""
    voice_attributes: Mapping[str, ParamValue] = field(default_factory=dict)
    """Voice description (gender, age, emotion) for engines that declare them."""
    defaults: SeedDefaults | None = None
    """A seed shape's defaults for what the request left unset (None: the model's own)."""


@dataclass(frozen=True)
class TranscriptionRequest:
    """One transcription call to an engine; ``None`` means "engine default"."""

    audio: npt.NDArray[np.float32]
    """Mono float32 PCM at 16 kHz (``STT_SAMPLE_RATE``)."""
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    word_timestamps: bool = False
    task: Task = "transcribe"
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    source_seconds: float | None = None
    """Length of the whole upload ``audio`` is a block of (None: ``audio`` is all of it)."""


@dataclass(frozen=True)
class Word:
    """One recognised word and when it was spoken (seconds from the start)."""

    word: str
    start: float
    end: float
    probability: float = 1.0


@dataclass(frozen=True)
class Segment:
    """One decoded stretch of speech, with OpenAI's verbose_json segment fields."""

    id: int
    start: float
    end: float
    text: str
    seek: int = 0
    tokens: tuple[int, ...] = ()
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class TranscriptionInfo:
    """What an engine learnt about the whole audio before decoding it."""

    language: str
    duration: float
    language_probability: float = 1.0


@dataclass(frozen=True)
class TranscriptionParams:
    """What a client asked for, transport-neutral; the service validates and resolves it."""

    model: str
    file: bytes
    language: str | None = None
    prompt: str | None = None
    response_format: str = "json"
    temperature: float | None = None
    timestamp_granularities: tuple[str, ...] = ()
    stream: bool = False
    task: Task = "transcribe"
    params: Mapping[str, ParamValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Caller:
    """Who sent a request, for what they own (library voices).

    ``key`` names the API key (a digest of it, never the key); None when the server runs
    without keys, where everything belongs to everyone. ``admin`` sees every key's voices.
    """

    key: str | None = None
    admin: bool = True

    def sees(self, owner: str | None) -> bool:
        """Whether something ``owner`` created is visible to (and usable by) this caller."""
        return self.admin or owner == self.key


TRUSTED = Caller()
"""A caller with no key to check: the server without API keys, the CLI, a RunPod job."""
