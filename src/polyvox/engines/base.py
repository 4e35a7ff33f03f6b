"""The engine contract: asynchronous and streaming, the same for local and remote engines.

An engine that blocks (Piper, faster-whisper) implements the ``Blocking*`` protocols and
runs behind ``engines.threaded``, which gives it the asynchronous contract: each piece of
audio or text it yields reaches the caller at once, and no event-loop thread waits on it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from polyvox.engines.spec import ModelSpec
from polyvox.types import (
    AudioChunk,
    EngineInfo,
    Segment,
    SpeechRequest,
    TranscriptionInfo,
    TranscriptionRequest,
    VoiceInfo,
)

__all__ = [
    "BlockingSTT",
    "BlockingTTS",
    "ComposesVoices",
    "CountsEvents",
    "Describes",
    "Engine",
    "EngineClass",
    "EngineInfo",
    "ForgetsReferences",
    "ReleasesMemory",
    "STTEngine",
    "TTSEngine",
    "TaskEngine",
]


class EngineClass:
    """What every engine class declares, read by the registry and placement before any
    engine is built (a model in an environment is known to clone before its worker runs).

    Engines derive from it and set ``kind`` and ``Options``; the rest have defaults. The
    registry refuses an engine class that does not derive from it.
    """

    kind: ClassVar[str]
    """The task the engine's models do: ``tts``, ``stt`` (``polyvox.tasks`` lists them)."""
    Options: ClassVar[type[BaseModel]]
    """The model options the engine reads, validated from the configuration."""
    blocking: ClassVar[bool] = False
    """Its calls block: it implements a ``Blocking*`` protocol and runs behind threads."""
    default_slots: ClassVar[int | None] = None
    """Requests one model runs at once unless configured (None: the server's per kind)."""

    info: EngineInfo
    """The model's capabilities (a remote engine's, once it is described)."""

    def __init__(self, spec: ModelSpec) -> None:
        """Build the engine of one model from its spec; nothing heavy happens until load."""
        raise NotImplementedError

    @classmethod
    def clones(cls, options: BaseModel) -> bool:
        """Whether a model with these options clones voices, known without loading it."""
        return False


@runtime_checkable
class Engine(Protocol):
    """What the model pool needs of any engine: capabilities, load and unload."""

    info: EngineInfo

    async def load(self) -> None:
        """Import heavy libraries and load weights (or connect); called once per load."""
        ...

    async def unload(self) -> None:
        """Drop weights so their memory can be reclaimed; load() may be called again."""
        ...


@runtime_checkable
class ReleasesMemory(Protocol):
    """An engine that keeps scratch memory between calls for speed and can give it back."""

    def release_memory(self) -> None:
        """Give kept scratch memory back; called off the event loop when the model goes idle."""
        ...


@runtime_checkable
class CountsEvents(Protocol):
    """An engine that counts events of its own (a cloning engine's conditioning cache hits),
    exported as ``polyvox_engine_events_total{model, event}``."""

    @property
    def events(self) -> Mapping[str, int]:
        """Cumulative counts by event name."""
        ...


@runtime_checkable
class ForgetsReferences(Protocol):
    """An engine that keeps something built from reference audio (conditioning, a copy of
    the audio on another server) and drops it when the reference is deleted."""

    async def forget_reference(self, digest: str) -> None:
        """Drop what was built from the reference with this SHA-256; never raises."""
        ...


@runtime_checkable
class BlockingForgets(Protocol):
    """The blocking form of ``ForgetsReferences`` (engines behind ``engines.threaded``)."""

    def forget_reference(self, digest: str) -> None:
        """Drop what was built from the reference with this SHA-256 (in a worker thread)."""
        ...


@runtime_checkable
class Describes(Protocol):
    """An engine that learns its capabilities and voices only by asking (a remote server):
    ``describe()`` runs once before the catalogue or a request relies on them."""

    described: bool
    loads_to_describe: bool
    """Asking means loading (a supervised worker): it is described on first use only."""

    async def describe(self) -> None:
        """Fetch capabilities and voices (and set ``described``)."""
        ...


@runtime_checkable
class ComposesVoices(Protocol):
    """A TTS engine that speaks voices beyond those it lists, made of them (Kokoro's
    blends, ``"voice_a(2)+voice_b(1)"``); the catalogue asks it about names it does not list."""

    def compose_voice(self, name: str) -> VoiceInfo | None:
        """The voice ``name`` describes, or None if it describes none; a part the engine
        does not have raises VoiceNotFound, a malformed name InvalidRequest (before audio)."""
        ...


@runtime_checkable
class TTSEngine(Engine, Protocol):
    """A text-to-speech model: voices and float32 audio chunks, streamed."""

    def voices(self) -> list[VoiceInfo]:
        """Every voice this model offers (cheap: no weights are loaded)."""
        ...

    @property
    def default_voice(self) -> str:
        """The voice used when a request names none."""
        ...

    def synthesize(self, req: SpeechRequest) -> AsyncGenerator[AudioChunk, None]:
        """Speak ``req.text``; yields mono float32 chunks as soon as each is ready.

        Closing the iterator early stops the work within one chunk.
        """
        ...


@runtime_checkable
class STTEngine(Engine, Protocol):
    """A speech-to-text model: 16 kHz mono float32 audio in, timed text segments out."""

    async def transcribe(
        self, req: TranscriptionRequest
    ) -> tuple[AsyncIterator[Segment], TranscriptionInfo]:
        """Start transcribing ``req.audio``; segments are decoded as they are iterated."""
        ...


@runtime_checkable
class TaskEngine(Engine, Protocol):
    """A model of a task beyond speech (``polyvox.tasks``): one request in, its results
    (progress, then outputs) streamed out as the task declares them."""

    def run(self, request: BaseModel) -> AsyncGenerator[object, None]:
        """Do the task; closing the iterator early stops the work within one step."""
        ...


class BlockingEngine(Protocol):
    """An engine whose calls block; ``engines.threaded`` runs it off the event loop."""

    info: EngineInfo

    def load(self) -> None:
        """Load weights (in a worker thread)."""
        ...

    def unload(self) -> None:
        """Drop weights (in a worker thread)."""
        ...


class BlockingTTS(BlockingEngine, Protocol):
    """A blocking text-to-speech engine."""

    def voices(self) -> list[VoiceInfo]:
        """Every voice this model offers."""
        ...

    @property
    def default_voice(self) -> str:
        """The voice used when a request names none."""
        ...

    def synthesize(self, req: SpeechRequest) -> Iterator[AudioChunk]:
        """Speak ``req.text``; each ``next()`` blocks until a chunk is ready."""
        ...


class BlockingSTT(BlockingEngine, Protocol):
    """A blocking speech-to-text engine."""

    def transcribe(self, req: TranscriptionRequest) -> tuple[Iterator[Segment], TranscriptionInfo]:
        """Start transcribing; each ``next()`` on the segments decodes one window."""
        ...


class BlockingTask(BlockingEngine, Protocol):
    """A blocking engine of a task beyond speech."""

    def run(self, request: BaseModel) -> Iterator[object]:
        """Do the task; each ``next()`` blocks until a result (or a step) is ready."""
        ...
